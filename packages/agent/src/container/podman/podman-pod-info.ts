/**
 * Pod metadata from podman's REST API (`podman system service`, by default on
 * /run/podman/podman.sock). The source lists the containers once, then follows podman's event
 * stream so that a container started later is known without polling; `refresh` asks about one
 * container the stream has not told us about yet.
 *
 * Mapping (podman has no Kubernetes objects; the fields are what a kubelet would show):
 * - `container.id` = `podman://<64 hex>`, the `<runtime>://` form Tetragon uses for every runtime
 *   (and the runtime name runtimeFromCgroupPath gives `libpod-<id>` cgroups);
 * - `container.name` = label `io.kubernetes.container.name`, else the podman container name;
 * - `container.image.name` = ImageName (`repo:tag`); `image.id` = `<repo>@<ImageDigest>` (the
 *   digest form of a kubelet's imageID), or `sha256:<image id>` when there is no digest;
 * - `container.start_time` = State.StartedAt (unset before the container first started);
 * - `container.security_context.privileged` only when the container is privileged;
 * - pod `name` = label `io.kubernetes.pod.name`, else the podman pod's name, else the container
 *   name (a container outside any pod is its own "pod"); `namespace` = label
 *   `io.kubernetes.pod.namespace`, else ""; both labels are also read from the container's
 *   annotations, where `podman kube play` puts a manifest's annotations; `uid` = label
 *   `io.kubernetes.pod.uid`, else the podman pod id;
 * - `pod_labels` = the podman pod's labels, overlaid with the container's own, without
 *   `io.kubernetes.*` keys. Both are needed: `podman run --pod` does not copy the pod's labels to
 *   the container, `podman kube play` does;
 * - `workload`/`workload_kind`: Tetragon takes these from owner references, which podman does
 *   not have. A pod that carries Kubernetes' `pod-template-hash` label and is named
 *   `<deployment>-<hash>-<suffix>` is reported as that Deployment (what a ReplicaSet-owned pod
 *   resolves to); every other pod is its own workload, kind "Pod".
 * Infra (pause) containers are not indexed: no workload runs in them.
 */
import { create } from "@bufbuild/protobuf";
import { type Timestamp, TimestampSchema } from "@bufbuild/protobuf/wkt";
import { type Pod, PodSchema } from "@nsguard/sdk";
import pino, { type Logger } from "pino";
import { qualifiedContainerId, unqualifiedContainerId } from "../container-id.js";
import { type PodInfoSource, StaticPodInfoSource } from "../pod-info.js";
import {
  type EventStream,
  LibpodClient,
  type LibpodContainerInspect,
  type LibpodEvent,
  type LibpodPodInspect,
  PodmanApiError,
} from "./libpod-client.js";

export { PodmanApiError } from "./libpod-client.js";

/** Where `podman system service` listens when run as root with its defaults. */
export const DEFAULT_PODMAN_SOCKET = "/run/podman/podman.sock";

/** Container events that change what we know: a new container, its start (start_time), a rename, its removal. */
const WATCHED_EVENTS = ["create", "start", "rename", "remove"];
const RECONNECT_MIN_MS = 100;
const RECONNECT_MAX_MS = 5000;
/** A stream open this long counts as healthy: losing it afterwards retries from the shortest delay. */
const STABLE_STREAM_MS = 10_000;
const K8S_LABEL_PREFIX = "io.kubernetes.";

export interface PodmanPodInfoOptions {
  socketPath: string;
  logger?: Logger;
  /** How long a removed container still resolves, for late events. Default 5 minutes. */
  deletedGraceMs?: number;
  /** At most this many removed containers are kept (Tetragon keeps 1024 deleted pods). */
  maxDeleted?: number;
  /** Per-request timeout. Default 5 s. */
  requestTimeoutMs?: number;
}

export interface PodmanPodInfoStats {
  /** Containers indexed (removed ones still in their grace period included). */
  containers: number;
  /** API requests that failed (unreachable service, error answers other than 404). */
  apiErrors: number;
  /** Times the event stream was lost. */
  streamDrops: number;
  /** Watched events received. */
  events: number;
  /** Full listings of podman's containers (one per (re)connection of the event stream). */
  resyncs: number;
  /** The event stream is open now. */
  connected: boolean;
}

export class PodmanPodInfoSource implements PodInfoSource {
  readonly kind = "podman";
  readonly #client: LibpodClient;
  readonly #logger: Logger;
  readonly #graceMs: number;
  readonly #maxDeleted: number;
  readonly #pods = new StaticPodInfoSource();
  /** Removed containers still indexed → when they were removed (insertion order is removal order). */
  readonly #deleted = new Map<string, number>();
  /** One inspection per id at a time (events and refresh may ask together)… */
  readonly #inflight = new Map<string, Promise<void>>();
  /** …and at most one waiting behind it. */
  readonly #queued = new Map<string, Promise<void>>();
  /** Full ids of every indexed container. */
  readonly #ids = new Set<string>();
  #stream: EventStream | undefined;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #backoffMs = RECONNECT_MIN_MS;
  #closed = false;
  #connected = false;
  #apiErrors = 0;
  #streamDrops = 0;
  #events = 0;
  #resyncs = 0;

  private constructor(options: PodmanPodInfoOptions) {
    this.#client = new LibpodClient(options.socketPath, { timeoutMs: options.requestTimeoutMs });
    this.#logger = (options.logger ?? pino({ level: "silent" })).child({ podInfo: "podman" });
    this.#graceMs = options.deletedGraceMs ?? 5 * 60_000;
    this.#maxDeleted = options.maxDeleted ?? 1024;
  }

  /**
   * Subscribes to podman's events and lists its containers. Resolves once that first attempt is
   * done, whether podman answered or not: podman may start after the agent, and the source keeps
   * reconnecting (with backoff) until it does.
   */
  static async start(options: PodmanPodInfoOptions): Promise<PodmanPodInfoSource> {
    const source = new PodmanPodInfoSource(options);
    await new Promise<void>((resolve) => source.#connect(resolve));
    return source;
  }

  get socketPath(): string {
    return this.#client.socketPath;
  }

  get stats(): PodmanPodInfoStats {
    return {
      containers: this.#pods.size,
      apiErrors: this.#apiErrors,
      streamDrops: this.#streamDrops,
      events: this.#events,
      resyncs: this.#resyncs,
      connected: this.#connected,
    };
  }

  /** See PodInfoSource.onUpdate: every container the index learns or updates. */
  onUpdate(listener: (containerId: string) => void): () => void {
    return this.#pods.onUpdate(listener);
  }

  lookup(containerId: string): Pod | undefined {
    return this.#pods.lookup(containerId);
  }

  async refresh(containerId: string): Promise<void> {
    const id = unqualifiedContainerId(containerId);
    if (id === "" || this.#closed) return;
    await this.#inspect(id);
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#reconnectTimer);
    this.#stream?.close();
    this.#stream = undefined;
    this.#connected = false;
    await Promise.allSettled([...this.#inflight.values(), ...this.#queued.values()]);
    this.#client.close();
  }

  /**
   * Opens the event stream, then (once podman accepted it, so nothing falls between the two)
   * lists every container. `settled` is called after that first listing or the first failure.
   */
  #connect(settled: () => void = () => undefined): void {
    if (this.#closed) {
      settled();
      return;
    }
    let openedAt: number | undefined;
    this.#stream = this.#client.events(
      { type: ["container"], event: WATCHED_EVENTS },
      {
        onOpen: () => {
          openedAt = performance.now();
          this.#connected = true;
          this.#logger.info({ socket: this.socketPath }, "following podman events");
          this.#resync().finally(settled);
        },
        onEvent: (event) => this.#onEvent(event),
        onClose: (err) => {
          if (openedAt !== undefined) {
            this.#streamDrops++;
            // Only a stream that stayed up resets the backoff: one that podman ends at once (its
            // events backend is "none", or broken) would otherwise mean a relisting every 100 ms.
            if (performance.now() - openedAt >= STABLE_STREAM_MS) this.#backoffMs = RECONNECT_MIN_MS;
            this.#logger.warn({ err: err.message, retryMs: this.#backoffMs }, "podman event stream lost");
          } else {
            this.#apiErrors++;
            this.#logger.debug({ err: err.message, retryMs: this.#backoffMs }, "podman unreachable");
          }
          this.#connected = false;
          this.#stream = undefined;
          settled();
          this.#scheduleReconnect();
        },
      },
    );
  }

  #scheduleReconnect(): void {
    if (this.#closed) return;
    const delay = this.#backoffMs;
    this.#backoffMs = Math.min(this.#backoffMs * 2, RECONNECT_MAX_MS);
    // unref: a podman that is down must not keep the process alive.
    this.#reconnectTimer = setTimeout(() => this.#connect(), delay).unref();
  }

  /** Lists all containers: inspects each, and retires the ones removed while we were not listening. */
  async #resync(): Promise<void> {
    this.#resyncs++;
    let list: Awaited<ReturnType<LibpodClient["listContainers"]>>;
    try {
      list = await this.#client.listContainers();
    } catch (err) {
      this.#failed(err, "list containers");
      return;
    }
    const present = new Set(list.map((c) => c.Id));
    for (const id of this.#liveIds()) if (!present.has(id)) this.#markDeleted(id);
    await Promise.all(list.filter((c) => !c.IsInfra).map((c) => this.#inspect(c.Id)));
  }

  #onEvent(event: LibpodEvent): void {
    if (event.Type !== "container" || !event.Actor?.ID) return;
    this.#events++;
    if (event.Action === "remove") this.#markDeleted(event.Actor.ID);
    else void this.#inspect(event.Actor.ID);
  }

  /**
   * Inspects one container (and its pod) and indexes it; never rejects. A request while one is
   * running queues one more after it (which also serves any further requests meanwhile): the
   * running one may have read podman's state from before the event that asked again (e.g. "start"
   * arriving while "create" is being inspected, which would lose start_time).
   */
  #inspect(nameOrId: string): Promise<void> {
    if (this.#closed) return Promise.resolve();
    const queued = this.#queued.get(nameOrId);
    if (queued) return queued;
    const running = this.#inflight.get(nameOrId);
    if (running) {
      const next = running.then(() => {
        this.#queued.delete(nameOrId);
        return this.#inspect(nameOrId);
      });
      this.#queued.set(nameOrId, next);
      return next;
    }
    const work = (async () => {
      try {
        const container = await this.#client.inspectContainer(nameOrId);
        if (container.IsInfra) return;
        let pod: LibpodPodInspect | undefined;
        if (container.Pod) {
          try {
            pod = await this.#client.inspectPod(container.Pod);
          } catch (err) {
            // Removed in between (404) or podman went away: index the container without its pod's labels.
            this.#failed(err, `inspect pod ${container.Pod}`);
          }
        }
        // A remove event may have overtaken this inspection: the entry is then already retiring.
        this.#pods.add(podFromLibpod(container, pod));
        this.#ids.add(container.Id);
      } catch (err) {
        this.#failed(err, `inspect container ${nameOrId}`);
      }
    })().finally(() => this.#inflight.delete(nameOrId));
    this.#inflight.set(nameOrId, work);
    return work;
  }

  #failed(err: unknown, what: string): void {
    if (err instanceof PodmanApiError && err.status === 404) return; // gone: not an error of ours
    this.#apiErrors++;
    this.#logger.debug({ err: (err as Error).message }, `podman: ${what} failed`);
  }

  /** Indexed containers podman has not reported removed. */
  #liveIds(): string[] {
    return [...this.#ids].filter((id) => !this.#deleted.has(id));
  }

  /** Keeps a removed container resolvable for the grace period, then forgets it. */
  #markDeleted(id: string): void {
    if (!this.#deleted.has(id)) this.#deleted.set(id, Date.now());
    const cutoff = Date.now() - this.#graceMs;
    for (const [old, removedAt] of this.#deleted) {
      if (removedAt > cutoff && this.#deleted.size <= this.#maxDeleted) break;
      this.#deleted.delete(old);
      this.#pods.remove(old);
      this.#ids.delete(old);
    }
  }
}

/** The Pod for one podman container (see the file comment for where each field comes from). */
export function podFromLibpod(container: LibpodContainerInspect, pod?: LibpodPodInspect): Pod {
  const own = container.Config.Labels ?? {};
  const annotations = container.Config.Annotations ?? {};
  const labels = { ...(pod?.Labels ?? {}), ...own };
  const k8s = (key: string): string | undefined => labels[key] ?? annotations[key];
  const name = k8s("io.kubernetes.pod.name") ?? pod?.Name ?? container.Name;
  const podLabels = Object.fromEntries(
    Object.entries(labels).filter(([k]) => !k.startsWith(K8S_LABEL_PREFIX)),
  );
  const workload = workloadOf(name, podLabels);
  return create(PodSchema, {
    namespace: k8s("io.kubernetes.pod.namespace") ?? "",
    name,
    uid: k8s("io.kubernetes.pod.uid") ?? pod?.Id ?? "",
    podLabels,
    workload: workload.name,
    workloadKind: workload.kind,
    container: {
      id: qualifiedContainerId("podman", container.Id),
      name: k8s("io.kubernetes.container.name") ?? container.Name,
      image: { id: imageIdOf(container), name: container.ImageName },
      startTime: container.State.StartedAt ? timestampOf(container.State.StartedAt) : undefined,
      securityContext: container.HostConfig?.Privileged ? { privileged: true } : undefined,
    },
  });
}

function imageIdOf(container: LibpodContainerInspect): string {
  if (!container.ImageDigest) return `sha256:${container.Image}`;
  const ref = container.ImageName.split("@")[0] ?? "";
  // The tag is the part after the last ':' that follows the last '/' (a registry may have a port).
  const tagAt = ref.lastIndexOf(":");
  const repo = tagAt > ref.lastIndexOf("/") ? ref.slice(0, tagAt) : ref;
  return `${repo}@${container.ImageDigest}`;
}

function workloadOf(podName: string, labels: Record<string, string>): { name: string; kind: string } {
  const hash = labels["pod-template-hash"];
  if (hash) {
    const marker = `-${hash}-`;
    const at = podName.lastIndexOf(marker);
    if (at > 0) return { name: podName.slice(0, at), kind: "Deployment" };
  }
  return { name: podName, kind: "Pod" };
}

/** RFC 3339 with up to nanosecond fractions (Go's time format); undefined for Go's zero time. */
function timestampOf(text: string): Timestamp | undefined {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(text);
  if (!m?.[1] || !m[3]) return undefined;
  const ms = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(ms) || ms <= 0) return undefined; // 0001-01-01T00:00:00Z: never started
  return create(TimestampSchema, { seconds: BigInt(ms / 1000), nanos: Number((m[2] ?? "").padEnd(9, "0")) });
}
