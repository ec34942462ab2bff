/**
 * Pod metadata from the Kubernetes API: an informer (list, then watch) on the pods scheduled to
 * this node, as Tetragon's pod watcher (pkg/watcher/pod.go, pkg/process/podinfo.go;
 * tetragon-reference §3.4). It satisfies the contract in pod-info.ts: pods are indexed by the
 * container ids of their init, regular and ephemeral container statuses, re-indexed on every
 * update, and kept for a while after deletion so late events still resolve.
 *
 * The list/watch loop is @kubernetes/client-node's ListWatch. In 1.4 it relists by itself on
 * `410 Gone` and rewatches when the server ends a watch, but it stops for good on any other error
 * (connection refused, reset, 5xx, a failed list); this class restarts it with an exponential
 * backoff. Restarting keeps the last resourceVersion, so a short outage costs one watch request,
 * not a relist, unless the server compacted past it.
 */
import { hostname } from "node:os";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  CoreV1Api,
  KubeConfig,
  ListWatch,
  type V1ContainerStatus,
  type V1Pod,
  type V1PodList,
  Watch,
} from "@kubernetes/client-node";
import { type Pod, PodSchema } from "@nsguard/sdk";
import pino, { type Logger } from "pino";
import { unqualifiedContainerId } from "../container-id.js";
import { type PodInfoSource, StaticPodInfoSource } from "../pod-info.js";

export interface KubernetesPodInfoOptions {
  /** Path of a kubeconfig file; without it, the in-cluster service account config is used. */
  kubeconfig?: string;
  /** This node's name (`spec.nodeName` of its pods). Default: $NODE_NAME, else the hostname (Tetragon's rule). */
  nodeName?: string;
  /** How long `start` waits for the first successful list. Default 30 s. */
  startTimeoutMs?: number;
  /** Containers of deleted pods kept for late events (Tetragon's --deleted-pod-cache-size). Default 1024. */
  deletedPodCacheSize?: number;
  /** Copy pod annotations into `Pod.pod_annotations` (Tetragon's --enable-pod-annotations). Default false. */
  podAnnotations?: boolean;
  /** Restart delays after an error: doubling from `initialMs` up to `maxMs`. Default 250 ms … 30 s. */
  backoff?: { initialMs: number; maxMs: number };
  logger?: Logger;
}

/** The configuration cannot be used (no kubeconfig, not in a cluster). */
export class KubernetesConfigError extends Error {
  override readonly name = "KubernetesConfigError";
}

/** The API server did not answer the first pod list in time. `cause` is the last error seen. */
export class KubernetesApiUnavailableError extends Error {
  override readonly name = "KubernetesApiUnavailableError";
}

const DEFAULT_START_TIMEOUT_MS = 30_000;
const DEFAULT_DELETED_POD_CACHE_SIZE = 1024;
const DEFAULT_BACKOFF = { initialMs: 250, maxMs: 30_000 };

/** Where a pod's containers sit in the index: its uid and the container ids indexed for it. */
interface IndexedPod {
  uid: string;
  containerIds: string[];
}

export class KubernetesPodInfoSource implements PodInfoSource {
  readonly kind = "kubernetes";
  readonly nodeName: string;
  readonly #informer: ListWatch<V1Pod>;
  readonly #watch: TrackedWatch;
  readonly #options: KubernetesPodInfoOptions;
  readonly #logger: Logger;
  /** Containers of pods that exist now. */
  readonly #live = new StaticPodInfoSource();
  /** `namespace/name` → what `#live` holds for that pod. */
  readonly #pods = new Map<string, IndexedPod>();
  /** Containers of deleted pods; `#deletedOrder` is its LRU order (oldest first). */
  readonly #deleted = new StaticPodInfoSource();
  readonly #deletedOrder = new Map<string, true>();
  #listed = false;
  #lastError: unknown;
  #failures = 0;
  #restartTimer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #closed = false;
  #onListed: (() => void) | undefined;

  private constructor(config: KubeConfig, nodeName: string, options: KubernetesPodInfoOptions) {
    this.nodeName = nodeName;
    this.#options = options;
    this.#logger = options.logger ?? pino({ level: "silent" });
    const api = config.makeApiClient(CoreV1Api);
    const fieldSelector = `spec.nodeName=${nodeName}`;
    const list = async (): Promise<V1PodList> => {
      const pods = await api.listPodForAllNamespaces({ fieldSelector });
      this.#failures = 0;
      this.#listed = true;
      return pods;
    };
    // ListWatch indexes a list's items before it opens the watch that follows, so the first watch
    // request after a successful list is when that list is in the index.
    this.#watch = new TrackedWatch(config, () => {
      if (this.#listed) this.#onListed?.();
    });
    this.#informer = new ListWatch<V1Pod>("/api/v1/pods", this.#watch, list, false, undefined, fieldSelector);
    this.#informer.on("add", (pod) => this.#index(pod));
    this.#informer.on("update", (pod) => this.#index(pod));
    this.#informer.on("delete", (pod) => this.#retire(pod));
    this.#informer.on("error", (err) => this.#failed(err));
  }

  /**
   * Connects and resolves once the first list has been indexed. Rejects with
   * {@link KubernetesConfigError} or, after `startTimeoutMs` of failures,
   * {@link KubernetesApiUnavailableError}.
   */
  static async start(options: KubernetesPodInfoOptions = {}): Promise<KubernetesPodInfoSource> {
    const nodeName = options.nodeName || process.env.NODE_NAME || hostname();
    const source = new KubernetesPodInfoSource(loadKubeConfig(options.kubeconfig), nodeName, options);
    const timeoutMs = options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
    let timer: NodeJS.Timeout | undefined;
    const listed = new Promise<void>((resolve, reject) => {
      source.#onListed = resolve;
      timer = setTimeout(() => {
        const err = new KubernetesApiUnavailableError(
          `no pod list from the Kubernetes API within ${timeoutMs} ms`,
          source.#lastError === undefined ? {} : { cause: source.#lastError },
        );
        reject(err);
      }, timeoutMs);
    });
    source.#run();
    try {
      await listed;
    } catch (err) {
      await source.close();
      throw err;
    } finally {
      clearTimeout(timer);
      source.#onListed = undefined;
    }
    return source;
  }

  /** See PodInfoSource.onUpdate: every container the index learns or updates. */
  onUpdate(listener: (containerId: string) => void): () => void {
    return this.#live.onUpdate(listener);
  }

  lookup(containerId: string): Pod | undefined {
    const live = this.#live.lookup(containerId);
    if (live) return live;
    const deleted = this.#deleted.lookup(containerId);
    if (deleted?.container) {
      // A hit makes the entry recent, as Tetragon's LRU Get does.
      const id = unqualifiedContainerId(deleted.container.id);
      this.#deletedOrder.delete(id);
      this.#deletedOrder.set(id, true);
    }
    return deleted;
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#restartTimer);
    await this.#informer.stop();
    // ListWatch may be between its list and its watch request: wait for that, then stop again.
    await this.#running;
    await this.#informer.stop();
    this.#watch.close();
  }

  #run(): void {
    if (this.#closed) return;
    this.#running = this.#informer.start().catch((err: unknown) => this.#failed(err));
  }

  /** ListWatch has stopped after an error: restart it later. */
  #failed(err: unknown): void {
    if (this.#closed) return;
    this.#lastError = err;
    if (this.#restartTimer !== undefined) return;
    const { initialMs, maxMs } = this.#options.backoff ?? DEFAULT_BACKOFF;
    const delay = Math.min(maxMs, initialMs * 2 ** this.#failures);
    this.#failures++;
    this.#logger.warn(
      { err, retryInMs: delay, node: this.nodeName },
      "kubernetes pod watch failed; restarting",
    );
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = undefined;
      this.#run();
    }, delay);
  }

  /** Replaces the index entries of one pod with those of its current state. */
  #index(pod: V1Pod): void {
    this.#failures = 0;
    const key = podKey(pod);
    const previous = this.#pods.get(key);
    // Same name, new uid (a StatefulSet pod recreated while we were not watching): the old pod
    // was deleted, so its containers go to the deleted cache.
    if (previous && previous.uid !== (pod.metadata?.uid ?? "")) this.#retireIndexed(key);
    else if (previous) for (const id of previous.containerIds) this.#live.remove(id);
    const entries = podEntries(pod, this.#options.podAnnotations ?? false);
    for (const entry of entries) {
      this.#live.add(entry);
      this.#forgetDeleted(entryId(entry));
    }
    this.#pods.set(key, { uid: pod.metadata?.uid ?? "", containerIds: entries.map(entryId) });
  }

  #retire(pod: V1Pod): void {
    // The deleted object is the pod's last state: index it so the deleted cache gets its final
    // container statuses, then move them there.
    this.#index(pod);
    this.#retireIndexed(podKey(pod));
  }

  #retireIndexed(key: string): void {
    const indexed = this.#pods.get(key);
    if (!indexed) return;
    this.#pods.delete(key);
    for (const id of indexed.containerIds) {
      const pod = this.#live.lookup(id);
      this.#live.remove(id);
      if (!pod) continue;
      this.#forgetDeleted(id);
      this.#deleted.add(pod);
      this.#deletedOrder.set(id, true);
    }
    const limit = this.#options.deletedPodCacheSize ?? DEFAULT_DELETED_POD_CACHE_SIZE;
    for (const oldest of this.#deletedOrder.keys()) {
      if (this.#deletedOrder.size <= limit) break;
      this.#forgetDeleted(oldest);
    }
  }

  #forgetDeleted(id: string): void {
    this.#deleted.remove(id);
    this.#deletedOrder.delete(id);
  }
}

/**
 * client-node's Watch, asking for bookmarks (so a quiet watch still advances its resourceVersion
 * and a reconnect after compaction need not relist) and remembering its connections so `close`
 * can end one that opened while the informer was being stopped.
 */
class TrackedWatch extends Watch {
  readonly #open = new Set<AbortController>();
  readonly #opening: () => void;
  #closed = false;

  constructor(config: KubeConfig, opening: () => void) {
    super(config);
    this.#opening = opening;
  }

  override async watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    this.#opening();
    // `done` may run before super.watch returns (a refused connection): then nothing is tracked.
    let finished = false;
    let controller: AbortController | undefined;
    controller = await super.watch(path, { ...queryParams, allowWatchBookmarks: true }, callback, (err) => {
      finished = true;
      if (controller) this.#open.delete(controller);
      done(err);
    });
    if (this.#closed) controller.abort();
    else if (!finished) this.#open.add(controller);
    return controller;
  }

  close(): void {
    this.#closed = true;
    for (const controller of this.#open) controller.abort();
    this.#open.clear();
  }
}

function loadKubeConfig(path: string | undefined): KubeConfig {
  const config = new KubeConfig();
  if (path !== undefined && path !== "") {
    try {
      config.loadFromFile(path);
    } catch (err) {
      throw new KubernetesConfigError(`cannot load kubeconfig ${path}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  } else {
    // Not in a pod: loadFromCluster would build "https://undefined:undefined".
    if (!process.env.KUBERNETES_SERVICE_HOST || !process.env.KUBERNETES_SERVICE_PORT) {
      throw new KubernetesConfigError(
        "not running in a Kubernetes pod (KUBERNETES_SERVICE_HOST/PORT unset) and no kubeconfig given",
      );
    }
    config.loadFromCluster();
  }
  if (!config.getCurrentCluster())
    throw new KubernetesConfigError(`kubeconfig ${path ?? ""} has no current cluster`);
  return config;
}

function podKey(pod: V1Pod): string {
  return `${pod.metadata?.namespace ?? ""}/${pod.metadata?.name ?? ""}`;
}

function entryId(entry: Pod): string {
  return unqualifiedContainerId(entry.container?.id ?? "");
}

/** One Pod message per started container (a status without an id has not started yet). */
function podEntries(pod: V1Pod, withAnnotations: boolean): Pod[] {
  const status = pod.status;
  const statuses: V1ContainerStatus[] = [
    ...(status?.initContainerStatuses ?? []),
    ...(status?.containerStatuses ?? []),
    ...(status?.ephemeralContainerStatuses ?? []),
  ];
  const meta = pod.metadata;
  const workload = workloadOf(pod);
  const entries: Pod[] = [];
  for (const container of statuses) {
    // Tetragon's index function rejects ids without a `<runtime>://` scheme.
    if (!container.containerID?.includes("://")) continue;
    const startedAt = container.state?.running?.startedAt;
    entries.push(
      create(PodSchema, {
        namespace: meta?.namespace ?? "",
        name: meta?.name ?? "",
        uid: meta?.uid ?? "",
        podLabels: { ...meta?.labels },
        podAnnotations: withAnnotations ? { ...meta?.annotations } : {},
        workload: workload.name,
        workloadKind: workload.kind,
        container: {
          id: container.containerID,
          name: container.name,
          image: { id: container.imageID, name: container.image },
          // A Date when it came from the (deserialised) list, an RFC 3339 string from a watch event.
          ...(startedAt ? { startTime: timestampFromDate(new Date(startedAt)) } : {}),
          securityContext: { privileged: isPrivileged(pod, container.name) },
        },
      }),
    );
  }
  return entries;
}

function isPrivileged(pod: V1Pod, containerName: string): boolean {
  const spec = pod.spec;
  const all = [
    ...(spec?.containers ?? []),
    ...(spec?.initContainers ?? []),
    ...(spec?.ephemeralContainers ?? []),
  ];
  return all.find((c) => c.name === containerName)?.securityContext?.privileged ?? false;
}

/** A CronJob's Job is named `<cronjob>-<scheduled time in minutes>`: 8 to 10 digits. */
const CRONJOB_JOB_NAME = /^(.+)-\d{8,10}$/;

/**
 * Tetragon's workload heuristic (pkg/podhelpers/workload.go, from Istio): only a pod whose name was
 * generated has a workload other than itself; that workload is its controller, except that a
 * ReplicaSet whose name ends in the pod's pod-template-hash stands for its Deployment, a
 * ReplicationController of an OpenShift DeploymentConfig for that, and a Job named like a CronJob's
 * for the CronJob. Owners are not looked up in the API.
 */
function workloadOf(pod: V1Pod): { name: string; kind: string } {
  const meta = pod.metadata;
  const podName = meta?.name ?? "";
  const controller = meta?.generateName
    ? meta.ownerReferences?.find((ref) => ref.controller === true)
    : undefined;
  if (!controller) return { name: podName, kind: "Pod" };
  const labels = meta?.labels ?? {};
  const hash = labels["pod-template-hash"];
  if (controller.kind === "ReplicaSet" && hash && controller.name.endsWith(hash)) {
    return { name: trimSuffix(controller.name, `-${hash}`) || podName, kind: "Deployment" };
  }
  const deploymentConfig = labels.deploymentconfig;
  if (controller.kind === "ReplicationController" && deploymentConfig) {
    return { name: deploymentConfig, kind: "DeploymentConfig" };
  }
  const cronJob = controller.kind === "Job" ? CRONJOB_JOB_NAME.exec(controller.name)?.[1] : undefined;
  if (cronJob) return { name: cronJob, kind: "CronJob" };
  return { name: controller.name || podName, kind: controller.kind };
}

function trimSuffix(text: string, suffix: string): string {
  return text.endsWith(suffix) ? text.slice(0, -suffix.length) : text;
}
