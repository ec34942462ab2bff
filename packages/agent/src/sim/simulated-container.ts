import { spawn } from "node:child_process";
import { existsSync, mkdirSync, rmdirSync } from "node:fs";
import { join } from "node:path";

/**
 * A container without a container runtime, for the demo and the root-tier tests: real pid, mount,
 * uts, ipc and net namespaces (`unshare`) inside a cgroup whose leaf is named by a 64-hex id, the
 * way containerd names a container's cgroup, so nsguard derives the container id exactly as it
 * does for real containers. /proc stays the host's (no --mount-proc) so a script inside can name
 * a host-side anchor process: on these machines /proc/1/ns/* is unreadable, even by root.
 */
export interface SimulatedContainerOptions {
  /** 64 hex characters. */
  id: string;
  hostname?: string;
  /** Parent cgroup directory; named after nsguard so anything left behind is easy to spot. */
  cgroupParent?: string;
}

export interface RunResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const CGROUP_ROOT = "/sys/fs/cgroup";

/** Cgroup hierarchies to join: the unified tree (v2 id, what BPF reads first) and, on hybrid
 * hosts, the v1 memory controller (where runtimes put containers on such hosts). */
function hierarchies(): string[] {
  if (existsSync(join(CGROUP_ROOT, "cgroup.controllers"))) return [CGROUP_ROOT]; // pure cgroup v2
  return [join(CGROUP_ROOT, "unified"), join(CGROUP_ROOT, "memory")].filter((dir) => existsSync(dir));
}

export class SimulatedContainer {
  private readonly cgroupDirs: string[];
  private readonly parentDirs: string[];

  constructor(private readonly options: SimulatedContainerOptions) {
    if (!/^[0-9a-f]{64}$/.test(options.id)) throw new Error("container id must be 64 hex characters");
    const parent = options.cgroupParent ?? "nsguard-sim";
    this.parentDirs = hierarchies().map((root) => join(root, parent));
    this.cgroupDirs = this.parentDirs.map((dir) => join(dir, options.id));
  }

  get id(): string {
    return this.options.id;
  }

  /**
   * Runs `script` (POSIX sh) as the container's init (pid 1 of its new pid namespace), inside
   * its cgroup, and resolves when it exits. The container ends with its init.
   */
  run(script: string, env: Record<string, string> = {}): Promise<RunResult> {
    for (const dir of this.cgroupDirs) mkdirSync(dir, { recursive: true });
    const joinCgroups = this.cgroupDirs.map((dir) => `echo $$ > ${dir}/cgroup.procs`).join(" && ");
    const hostname = this.options.hostname ?? this.options.id.slice(0, 12);
    const init = `hostname ${hostname}; cd /; ${script}`;
    const child = spawn(
      "sh",
      [
        "-c",
        `${joinCgroups} && exec unshare --fork --pid --mount --uts --ipc --net -- sh -c "$NSGUARD_INIT"`,
      ],
      { env: { ...process.env, ...env, NSGUARD_INIT: init }, stdio: ["ignore", "pipe", "pipe"] },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    return new Promise((resolve, reject) => {
      child.on("error", reject);
      child.on("close", (exitCode, signal) => resolve({ exitCode, signal, stdout, stderr }));
    });
  }

  /**
   * Removes the container's cgroups (and the parent when empty). Safe to call twice. The init's
   * exit is reported before the rest of its pid namespace has been reaped, so the cgroup can still
   * be populated for a moment: rmdir is retried while it is busy, and a cgroup that stays busy
   * (a process escaped the namespace's end) is an error rather than a silent leftover.
   */
  remove(): void {
    for (const dir of this.cgroupDirs) removeCgroup(dir);
    for (const dir of this.parentDirs) {
      try {
        rmdirSync(dir);
      } catch {
        // already gone, or the parent still holds another container
      }
    }
  }
}

const REMOVE_WAIT_MS = 5000;
const REMOVE_RETRY_MS = 20;
const pause = new Int32Array(new SharedArrayBuffer(4));

function removeCgroup(dir: string): void {
  const deadline = Date.now() + REMOVE_WAIT_MS;
  for (;;) {
    try {
      rmdirSync(dir);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT") return;
      if (code !== "EBUSY" || Date.now() > deadline) {
        throw new Error(`cannot remove the simulated container's cgroup ${dir}: ${code}`, { cause: err });
      }
      Atomics.wait(pause, 0, 0, REMOVE_RETRY_MS);
    }
  }
}

/** A long-lived process in the host's namespaces for escapes to target (instead of pid 1). */
export function startHostAnchor(): { pid: number; stop: () => void } {
  const anchor = spawn("sleep", ["3600"], { stdio: "ignore", detached: false });
  if (anchor.pid === undefined) throw new Error("could not start the host anchor process");
  return { pid: anchor.pid, stop: () => anchor.kill("SIGKILL") };
}
