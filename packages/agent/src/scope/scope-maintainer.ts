import { NSGUARD_SCOPE_ALL_CONTAINERS, NSGUARD_SCOPE_HOST_CGROUP } from "@nsguard/kernel-contract";
import { imageRepository, type WorkloadIdentity, type WorkloadScope, workloadInScope } from "@nsguard/policy";
import type { Pod } from "@nsguard/sdk";
import type { Logger } from "pino";
import type { PodInfoSource } from "../container/pod-info.js";
import type { ContainerCgroup } from "./container-cgroups.js";

/** The kernel map nsguard_policy_cgroups (the Sensor). */
export interface ScopeMap {
  setScopeCgroup(scopeId: number, cgroupId: bigint, member: boolean): boolean;
}

export interface ScopeMaintainerOptions {
  map: ScopeMap;
  /** Pod metadata; without it no container is known and a scoped policy sees only what `includeHost` admits. */
  podInfo: PodInfoSource | undefined;
  /** Every container cgroup on the node now (scanContainerCgroups), for resync(). */
  scan: () => ContainerCgroup[];
  logger?: Logger;
}

interface KnownCgroup {
  containerId: string;
  /** Undefined while no pod source knows the container. */
  workload: WorkloadIdentity | undefined;
  /** A refresh of this container is under way. */
  refreshing: boolean;
  /** performance.now() of the last refresh asked for it; -Infinity: never. */
  refreshedAt: number;
}

/**
 * A container no source knows is asked about again at most this often: pod and infra (pause)
 * cgroups look like containers but no source ever indexes them, and each ask is a runtime call.
 */
const REFRESH_RETRY_MS = 30_000;

interface Scope {
  scope: WorkloadScope;
  /** The cgroup ids written under this scope id, HOST_CGROUP included. */
  written: Set<bigint>;
}

const ALL_CONTAINERS = NSGUARD_SCOPE_ALL_CONTAINERS;
const HOST_CGROUP = NSGUARD_SCOPE_HOST_CGROUP;

/**
 * Keeps the kernel's workload scopes (map nsguard_policy_cgroups, bpf/lib/scope.bpf.h) equal to
 * what the policies select: for each scoped policy, the container cgroups whose pod and container
 * match its scope; under NSGUARD_SCOPE_ALL_CONTAINERS every cgroup of a known pod container (what
 * tells a container from a host process for `hostSelector: {}`). Tetragon's policyfilter does the
 * same from its pod informer (pkg/policyfilter/state.go).
 *
 * Containers are learned whichever way comes first: from the kernel's exec records (observe(),
 * called for every exec: a new container's first exec shows its cgroup), from the pod sources
 * (PodInfoSource.onUpdate: a container they report that has no known cgroup yet starts a walk),
 * and from a walk of the cgroup filesystems (resync(), at start and then periodically, which also
 * forgets cgroups that are gone and picks up pod changes such as new labels). A container no pod
 * source knows yet is asked about (PodInfoSource.refresh) and re-evaluated when the answer is in.
 *
 * The remaining window (documented in README, Policies): a container's very first syscalls —
 * those before the agent has seen its cgroup and its pod (runc's own set-up inside the new
 * cgroup, and the entrypoint's first calls until the exec record is read and the pod source
 * answers) — are judged with the container still unknown, i.e. as a host process: a scoped policy
 * without hostSelector misses them, one with hostSelector {} reports them. Tetragon's policyfilter
 * has the same window unless its OCI runtime hooks are installed; nsguard has no runtime hook.
 */
export class ScopeMaintainer {
  readonly #map: ScopeMap;
  readonly #podInfo: PodInfoSource | undefined;
  readonly #scan: () => ContainerCgroup[];
  readonly #logger: Logger | undefined;
  readonly #cgroups = new Map<bigint, KnownCgroup>();
  /** Container id → its cgroups in #cgroups (a container may show in the v2 and the v1 tree). */
  readonly #byContainer = new Map<string, Set<bigint>>();
  readonly #scopes = new Map<number, Scope>();
  /** Cgroups written under ALL_CONTAINERS. */
  readonly #allWritten = new Set<bigint>();
  #nextId = 1;
  #closed = false;
  #walk: NodeJS.Immediate | undefined;
  readonly #stopUpdates: (() => void) | undefined;

  constructor(options: ScopeMaintainerOptions) {
    this.#map = options.map;
    this.#podInfo = options.podInfo;
    this.#scan = options.scan;
    this.#logger = options.logger;
    this.#stopUpdates = this.#podInfo?.onUpdate?.((containerId) => this.#podUpdated(containerId));
  }

  /**
   * A new scope filled with what is known now (call resync() first at start-up); returns its id for
   * the policy's hook tables. The kernel map is written before the id is returned, so hooks that
   * carry it never see a half-filled scope.
   */
  addScope(scope: WorkloadScope): number {
    let id = this.#nextId++;
    if (id === ALL_CONTAINERS) id = this.#nextId++; // after 2^32 - 1 scopes: skip the reserved id
    if (!this.#podInfo) {
      this.#logger?.warn(
        { scope },
        "a policy is scoped to pods, but no pod metadata source is configured: it selects no container",
      );
    }
    const entry: Scope = { scope, written: new Set() };
    this.#scopes.set(id, entry);
    if (scope.includeHost) this.#write(id, entry.written, HOST_CGROUP, true);
    for (const [cgroupId, known] of this.#cgroups) this.#evaluate(id, entry, cgroupId, known);
    return id;
  }

  /** Removes a scope's entries (after its hooks are gone). */
  removeScope(scopeId: number): void {
    const entry = this.#scopes.get(scopeId);
    if (!entry) return;
    for (const cgroupId of [...entry.written]) this.#write(scopeId, entry.written, cgroupId, false);
    this.#scopes.delete(scopeId);
  }

  get scopeCount(): number {
    return this.#scopes.size;
  }

  /**
   * A kernel record from a task in `cgroupId`, whose cgroup names container `containerId` ("" for
   * none). On the event path: a map lookup unless the cgroup is new.
   */
  observe(cgroupId: bigint, containerId: string): void {
    if (containerId === "" || this.#cgroups.has(cgroupId)) return;
    this.#learn(cgroupId, containerId);
  }

  /**
   * Walks the cgroup filesystems: learns containers that have not exec'd since the agent started,
   * forgets cgroups that are gone, and re-reads every known container's pod (labels may change).
   */
  resync(): void {
    if (this.#closed) return;
    const present = new Map<bigint, string>();
    for (const { cgroupId, containerId } of this.#scan()) present.set(cgroupId, containerId);
    for (const cgroupId of [...this.#cgroups.keys()]) {
      if (!present.has(cgroupId)) this.#forget(cgroupId);
    }
    for (const [cgroupId, containerId] of present) {
      const known = this.#cgroups.get(cgroupId);
      if (!known || known.containerId !== containerId) this.#learn(cgroupId, containerId);
      else this.#resolve(cgroupId, known);
    }
  }

  close(): void {
    this.#closed = true;
    this.#stopUpdates?.();
    clearImmediate(this.#walk);
  }

  /**
   * A pod source learned or updated a container: re-evaluate its cgroups, or when the container
   * has none known yet, walk the cgroup filesystems for it (once for a burst of updates).
   */
  #podUpdated(containerId: string): void {
    const cgroups = this.#byContainer.get(containerId);
    if (cgroups) {
      for (const cgroupId of cgroups) {
        const known = this.#cgroups.get(cgroupId);
        if (known) this.#resolve(cgroupId, known);
      }
      return;
    }
    this.#walk ??= setImmediate(() => {
      this.#walk = undefined;
      this.resync();
    });
  }

  #learn(cgroupId: bigint, containerId: string): void {
    const previous = this.#cgroups.get(cgroupId);
    if (previous) this.#unindex(cgroupId, previous.containerId);
    const known: KnownCgroup = {
      containerId,
      workload: undefined,
      refreshing: false,
      refreshedAt: -Infinity,
    };
    this.#cgroups.set(cgroupId, known);
    const ids = this.#byContainer.get(containerId) ?? new Set<bigint>();
    ids.add(cgroupId);
    this.#byContainer.set(containerId, ids);
    this.#resolve(cgroupId, known);
  }

  #forget(cgroupId: bigint): void {
    const known = this.#cgroups.get(cgroupId);
    if (known) this.#unindex(cgroupId, known.containerId);
    this.#cgroups.delete(cgroupId);
    for (const [id, entry] of this.#scopes) this.#write(id, entry.written, cgroupId, false);
    this.#write(ALL_CONTAINERS, this.#allWritten, cgroupId, false);
  }

  #unindex(cgroupId: bigint, containerId: string): void {
    const ids = this.#byContainer.get(containerId);
    ids?.delete(cgroupId);
    if (ids?.size === 0) this.#byContainer.delete(containerId);
  }

  /** Looks the container's pod up now; unknown: asks the sources, then looks again. */
  #resolve(cgroupId: bigint, known: KnownCgroup): void {
    const pod = this.#podInfo?.lookup(known.containerId);
    known.workload = pod ? workloadOf(pod) : undefined;
    this.#apply(cgroupId, known);
    const now = performance.now();
    if (pod || known.refreshing || !this.#podInfo?.refresh || now - known.refreshedAt < REFRESH_RETRY_MS)
      return;
    known.refreshing = true;
    known.refreshedAt = now;
    void this.#podInfo.refresh(known.containerId).then(() => {
      known.refreshing = false;
      // Forgotten or replaced meanwhile: the newer entry has its own lookup.
      if (this.#closed || this.#cgroups.get(cgroupId) !== known) return;
      const found = this.#podInfo?.lookup(known.containerId);
      if (!found) return; // a resync after REFRESH_RETRY_MS asks again
      known.workload = workloadOf(found);
      this.#apply(cgroupId, known);
    });
  }

  #apply(cgroupId: bigint, known: KnownCgroup): void {
    this.#write(ALL_CONTAINERS, this.#allWritten, cgroupId, known.workload !== undefined);
    for (const [id, entry] of this.#scopes) this.#evaluate(id, entry, cgroupId, known);
  }

  #evaluate(id: number, entry: Scope, cgroupId: bigint, known: KnownCgroup): void {
    const member = known.workload !== undefined && workloadInScope(entry.scope, known.workload);
    this.#write(id, entry.written, cgroupId, member);
  }

  /** Writes one entry when it differs from what was written; a refused write is logged, not thrown. */
  #write(scopeId: number, written: Set<bigint>, cgroupId: bigint, member: boolean): void {
    if (written.has(cgroupId) === member) return;
    try {
      this.#map.setScopeCgroup(scopeId, cgroupId, member);
      if (member) written.add(cgroupId);
      else written.delete(cgroupId);
    } catch (err) {
      // A full map (NSGUARD_MAX_SCOPE_CGROUPS): the container stays out of the scope.
      this.#logger?.warn(
        { err, scopeId, cgroupId: String(cgroupId) },
        "cannot update a policy's workload scope",
      );
    }
  }
}

/** What a scope matches a container against, from its pod metadata. */
export function workloadOf(pod: Pod): WorkloadIdentity {
  const image = pod.container?.image;
  // Tetragon takes the repository from the image id (`repo@sha256:…`); the name (`repo:tag`) when
  // a source has no digest form.
  const ref = image?.id.includes("@") ? image.id : (image?.name ?? "");
  return {
    namespace: pod.namespace,
    podLabels: pod.podLabels,
    containerName: pod.container?.name ?? "",
    containerRepo: imageRepository(ref),
  };
}
