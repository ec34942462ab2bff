/**
 * Pod and container metadata for processes running in containers (`Process.pod`).
 *
 * Tetragon gets this from a node-scoped Kubernetes pod informer (pkg/watcher/pod.go,
 * pkg/process/podinfo.go; tetragon-reference §3.4); ours is KubernetesPodInfoSource
 * (kubernetes/kubernetes-pod-info.ts), beside the node's runtimes: CriPodInfoSource (cri/) and
 * PodmanPodInfoSource (podman/), combined by startPodInfoSources (pod-sources.ts). The agent
 * depends only on the {@link PodInfoSource} interface. {@link StaticPodInfoSource} is the
 * in-memory index the sources build on, and the `--pod-info-file` source of tests.
 *
 * Contract every source satisfies (what Tetragon's informer does):
 * - index every pod on the node by the container ids of its init, regular and ephemeral
 *   container *statuses* (`containerd://<id>` → `<id>`), re-indexing on every pod update;
 * - `lookup` accepts the full id or any prefix of at least `Process.docker`'s 31 characters,
 *   and answers only when exactly one container matches;
 * - the returned Pod carries namespace, name, uid, labels, workload/workload_kind (from owner
 *   references) and a `container` for *that* container: id in `<runtime>://<id>` form, name,
 *   image {id: digest form, name: repo:tag}, start_time (State.Running.StartedAt);
 * - keep recently deleted pods for a while (Tetragon: LRU of 1024) so events that are late
 *   still resolve;
 * - return a fresh object per call: callers fill in per-process fields (container.pid).
 * `maybe_exec_probe` (binary/args equal to a liveness/readiness exec probe) needs the pod spec
 * and is left to such an implementation.
 */
import { clone } from "@bufbuild/protobuf";
import { type Pod, PodSchema } from "@nsguard/sdk";
import { unqualifiedContainerId } from "./container-id.js";

export interface PodInfoSource {
  /**
   * What the source reads, for logs and health: "file", "cri", "podman", "kubernetes".
   */
  readonly kind: string;
  /**
   * Synchronous and cheap (a map lookup): it runs on the event path. `containerId`: a full id or a
   * prefix of ≥ 31 chars (`Process.docker`), with or without a `<runtime>://` scheme.
   */
  lookup(containerId: string): Pod | undefined;
  /**
   * Asks the source about a container `lookup` did not know (one started since the source last
   * listed its runtime). Off the event path: the event cache calls it and retries `lookup` later.
   * Resolves once the source has answered, found or not; never rejects (a runtime that is down is
   * the source's to log and count). Sources fed by a watch (the Kubernetes informer) may omit it.
   */
  refresh?(containerId: string): Promise<void>;
  /**
   * Calls `listener` with a container's id (without scheme) each time the source learns about it
   * or its pod changes (labels, say), so workload scopes need not wait for the container's first
   * exec or their next walk. Returns the unsubscribe function.
   */
  onUpdate?(listener: (containerId: string) => void): () => void;
  /** Stops watches and closes connections. */
  close?(): Promise<void>;
}

/** Tetragon's informer index key length: the first 15 characters of the id. */
const INDEX_PREFIX = 15;

/**
 * A PodInfoSource fed from memory. Each entry is one container: a Pod message whose
 * `container.id` names it (`containerd://<64 hex>` or bare), exactly as it should appear in events.
 */
export class StaticPodInfoSource implements PodInfoSource {
  readonly kind: string = "file";
  readonly #byId = new Map<string, Pod>();
  readonly #byPrefix = new Map<string, Set<string>>();
  readonly #listeners = new Set<(containerId: string) => void>();

  constructor(pods: Iterable<Pod> = []) {
    for (const pod of pods) this.add(pod);
  }

  /** Adds or replaces the entry for `pod.container.id`. */
  add(pod: Pod): void {
    const qualified = pod.container?.id;
    if (!qualified) throw new Error(`pod ${pod.namespace}/${pod.name}: container.id is required`);
    const id = unqualifiedContainerId(qualified);
    this.remove(id);
    this.#byId.set(id, clone(PodSchema, pod));
    const key = id.slice(0, INDEX_PREFIX);
    const ids = this.#byPrefix.get(key) ?? new Set<string>();
    ids.add(id);
    this.#byPrefix.set(key, ids);
    for (const listener of this.#listeners) listener(id);
  }

  onUpdate(listener: (containerId: string) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  remove(containerId: string): boolean {
    const id = unqualifiedContainerId(containerId);
    if (!this.#byId.delete(id)) return false;
    const key = id.slice(0, INDEX_PREFIX);
    const ids = this.#byPrefix.get(key);
    ids?.delete(id);
    if (ids?.size === 0) this.#byPrefix.delete(key);
    return true;
  }

  get size(): number {
    return this.#byId.size;
  }

  lookup(containerId: string): Pod | undefined {
    const query = unqualifiedContainerId(containerId);
    if (query === "") return undefined;
    const exact = this.#byId.get(query);
    if (exact) return clone(PodSchema, exact);
    const pool =
      query.length >= INDEX_PREFIX
        ? (this.#byPrefix.get(query.slice(0, INDEX_PREFIX)) ?? [])
        : this.#byId.keys();
    let found: string | undefined;
    for (const id of pool) {
      if (!id.startsWith(query)) continue;
      if (found !== undefined) return undefined; // ambiguous prefix: better no pod than a wrong one
      found = id;
    }
    const pod = found === undefined ? undefined : this.#byId.get(found);
    return pod ? clone(PodSchema, pod) : undefined;
  }
}

/**
 * The Pod as it appears on one process: a copy whose `container.pid` is the process's pid in
 * the container's pid namespace (omitted when 0, i.e. not in a child pid namespace), as Tetragon's
 * GetPodInfo does.
 */
export function podForProcess(pod: Pod, nspid: number): Pod {
  const copy = clone(PodSchema, pod);
  if (copy.container) copy.container.pid = nspid !== 0 ? nspid : undefined;
  return copy;
}
