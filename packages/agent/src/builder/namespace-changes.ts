import { create } from "@bufbuild/protobuf";
import {
  type NamespaceChanges,
  NamespaceChangesSchema,
  NamespaceDirection,
  NamespaceKind,
  NamespaceTarget,
} from "@nsguard/sdk";
import { nativeConstants, type RawNamespaceChange } from "@nsguard/sensor";
import type { SyscallInput } from "../process/raw-input.js";

const SLOTS = nativeConstants.nsIndex;

/** Kinds in the field order of tetragon.Namespaces, with their slot in the kernel's arrays. */
const KINDS: readonly (readonly [NamespaceKind, number])[] = [
  [NamespaceKind.UTS, SLOTS.uts],
  [NamespaceKind.IPC, SLOTS.ipc],
  [NamespaceKind.MNT, SLOTS.mnt],
  [NamespaceKind.PID, SLOTS.pid],
  [NamespaceKind.NET, SLOTS.net],
  [NamespaceKind.TIME, SLOTS.time],
  [NamespaceKind.CGROUP, SLOTS.cgroup],
  [NamespaceKind.USER, SLOTS.user],
];

/**
 * The caller enters a host namespace from a container's: the kernel's verdict bits say it, and
 * such events are priority everywhere (never throttled, never evicted by a flood).
 */
export function entersHostFromContainer(raw: { nsToHost: number; nsFromHost: number }): boolean {
  return (raw.nsToHost & ~raw.nsFromHost) !== 0;
}

/**
 * The kernel's resolution of a namespace call (`change`, from `raw.nsChange()`; undefined for
 * other hooks) → nsguard's NamespaceChanges message.
 */
export function namespaceChanges(
  change: RawNamespaceChange | undefined,
  fdKind: SyscallInput["fdKind"],
): NamespaceChanges | undefined {
  if (change === undefined) return undefined;
  const changes = [];
  let entersHost = false;
  for (const [kind, slot] of KINDS) {
    const bit = 1 << slot;
    if ((change.kinds & bit) === 0) continue;
    const direction = directionOf(change, slot, bit);
    if (direction === NamespaceDirection.CONTAINER_TO_HOST) entersHost = true;
    changes.push({
      kind,
      before: change.before[slot] ?? 0,
      after: change.target[slot] ?? 0,
      toHost: (change.toHost & bit) !== 0,
      fromHost: (change.fromHost & bit) !== 0,
      direction,
    });
  }
  return create(NamespaceChangesSchema, {
    changes,
    target:
      fdKind === "nsfs"
        ? NamespaceTarget.NSFS
        : fdKind === "pidfd"
          ? NamespaceTarget.PIDFD
          : NamespaceTarget.UNSPECIFIED,
    escape: entersHost,
  });
}

function directionOf(change: RawNamespaceChange, slot: number, bit: number): NamespaceDirection {
  if ((change.created & bit) !== 0) return NamespaceDirection.NEW;
  const fromHost = (change.fromHost & bit) !== 0;
  const toHost = (change.toHost & bit) !== 0;
  const target = change.target[slot] ?? 0;
  // A pidfd whose process is gone resolves no target: nothing is known about where it leads.
  if (target === 0) return NamespaceDirection.UNSPECIFIED;
  if (target === change.before[slot]) return NamespaceDirection.UNCHANGED;
  if (toHost) return fromHost ? NamespaceDirection.UNCHANGED : NamespaceDirection.CONTAINER_TO_HOST;
  return fromHost ? NamespaceDirection.HOST_TO_CONTAINER : NamespaceDirection.CONTAINER_TO_CONTAINER;
}
