// CLONE_NEW* flags (include/uapi/linux/sched.h); setns(2)'s nstype and the flags of
// unshare(2)/clone(2)/clone3(2) share these values.
/** The time namespace flag. */
export const CLONE_NEWTIME = 0x80;
/** The mount namespace flag. */
export const CLONE_NEWNS = 0x20000;
/** The cgroup namespace flag. */
export const CLONE_NEWCGROUP = 0x2000000;
/** The UTS (host and domain name) namespace flag. */
export const CLONE_NEWUTS = 0x4000000;
/** The IPC namespace flag. */
export const CLONE_NEWIPC = 0x8000000;
/** The user namespace flag. */
export const CLONE_NEWUSER = 0x10000000;
/** The PID namespace flag. */
export const CLONE_NEWPID = 0x20000000;
/** The network namespace flag. */
export const CLONE_NEWNET = 0x40000000;

// Sorted by name so that multi-namespace lines read the same whatever the bit order.
const namespaceFlags: readonly (readonly [string, number])[] = [
  ["cgroup", CLONE_NEWCGROUP],
  ["ipc", CLONE_NEWIPC],
  ["mnt", CLONE_NEWNS],
  ["net", CLONE_NEWNET],
  ["pid", CLONE_NEWPID],
  ["time", CLONE_NEWTIME],
  ["user", CLONE_NEWUSER],
  ["uts", CLONE_NEWUTS],
];

const setnsNames = new Map<number, string>([
  [0, "any"],
  ...namespaceFlags.map(([name, flag]) => [flag, name] as const),
]);

/**
 * The namespace named by setns(2)'s nstype, as tetra prints it: "any" for 0, the short
 * name for exactly one CLONE_NEW* flag, and "" for anything else (Tetragon's PrintNS).
 */
export function setnsNamespaceName(nstype: number): string {
  return setnsNames.get(nstype) ?? "";
}

/** Names of the CLONE_NEW* flags set in `flags`, e.g. ["net", "uts"]; other bits are ignored. */
export function namespaceFlagNames(flags: number | bigint): string[] {
  const value = BigInt(flags);
  return namespaceFlags.filter(([, flag]) => (value & BigInt(flag)) !== 0n).map(([name]) => name);
}
