import { NamespaceDirection, NamespaceKind, NamespaceTarget } from "@nsguard/sdk";
import { nativeConstants, type RawNamespaceChange } from "@nsguard/sensor";
import { describe, expect, it } from "vitest";
import { entersHostFromContainer, namespaceChanges } from "./namespace-changes.js";

const SLOT = nativeConstants.nsIndex;
const HOST_NET = 4026531833;
const CONTAINER_NET = 4026532100;
const OTHER_NET = 4026532200;

/** A net-only change: the caller's net namespace before, the one entered, the kernel's bits. */
function netChange(
  before: number,
  target: number,
  bits: { created?: boolean; toHost?: boolean; fromHost?: boolean },
): RawNamespaceChange {
  const bit = 1 << SLOT.net;
  const arr = (value: number) => Array.from({ length: 10 }, (_, i) => (i === SLOT.net ? value : 0));
  return {
    kinds: bit,
    created: bits.created ? bit : 0,
    toHost: bits.toHost ? bit : 0,
    fromHost: bits.fromHost ? bit : 0,
    target: arr(target),
    before: arr(before),
  };
}

describe("namespaceChanges: the kernel's bits → directions", () => {
  it.each([
    [
      "container → host",
      netChange(CONTAINER_NET, HOST_NET, { toHost: true }),
      NamespaceDirection.CONTAINER_TO_HOST,
      true,
    ],
    [
      "host → container",
      netChange(HOST_NET, CONTAINER_NET, { fromHost: true }),
      NamespaceDirection.HOST_TO_CONTAINER,
      false,
    ],
    [
      "container → container",
      netChange(CONTAINER_NET, OTHER_NET, {}),
      NamespaceDirection.CONTAINER_TO_CONTAINER,
      false,
    ],
    [
      "host → host is unchanged",
      netChange(HOST_NET, HOST_NET, { toHost: true, fromHost: true }),
      NamespaceDirection.UNCHANGED,
      false,
    ],
    [
      "into its own namespace",
      netChange(CONTAINER_NET, CONTAINER_NET, {}),
      NamespaceDirection.UNCHANGED,
      false,
    ],
    ["created", netChange(CONTAINER_NET, 0, { created: true }), NamespaceDirection.NEW, false],
    [
      "a pidfd whose process is gone: no target",
      netChange(CONTAINER_NET, 0, {}),
      NamespaceDirection.UNSPECIFIED,
      false,
    ],
  ])("%s", (_name, change, direction, isEscape) => {
    const message = namespaceChanges(change, "nsfs");
    expect(message?.changes.map((c) => [c.kind, c.direction, c.before, c.after])).toEqual([
      [NamespaceKind.NET, direction, change.before[SLOT.net], change.target[SLOT.net]],
    ]);
    expect(message?.escape).toBe(isEscape);
    expect(message?.target).toBe(NamespaceTarget.NSFS);
    expect(entersHostFromContainer({ nsToHost: change.toHost, nsFromHost: change.fromHost })).toBe(isEscape);
  });

  it("lists kinds in Namespaces field order and says what the descriptor was", () => {
    const change = netChange(CONTAINER_NET, HOST_NET, { toHost: true });
    change.kinds |= 1 << SLOT.uts;
    change.toHost |= 1 << SLOT.uts;
    change.target[SLOT.uts] = 4026531838;
    change.before[SLOT.uts] = 4026532101;
    const message = namespaceChanges(change, "pidfd");
    expect(message?.changes.map((c) => c.kind)).toEqual([NamespaceKind.UTS, NamespaceKind.NET]);
    expect(message?.target).toBe(NamespaceTarget.PIDFD);
  });

  it("other hooks carry no message", () => {
    expect(namespaceChanges(undefined, "unknown")).toBeUndefined();
  });
});
