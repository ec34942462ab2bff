import { Code, ConnectError } from "@connectrpc/connect";
import type { Pod } from "@nsguard/sdk";
import pino, { type Logger } from "pino";
import type { Container, PodSandbox, PodSandboxStatus } from "../../gen/runtime/v1/api_pb.js";
import { unqualifiedContainerId } from "../container-id.js";
import { type PodInfoSource, StaticPodInfoSource } from "../pod-info.js";
import { type CriConnection, connectCri, criSocketPath, DEFAULT_CRI_SOCKET } from "./cri-client.js";
import { podFromCri } from "./cri-pod.js";

/** A CRI call failed: the runtime is down, the socket is wrong, or it answered with an error. */
export class CriError extends Error {
  override readonly name = "CriError";
  constructor(
    /** The RPC, e.g. "ListContainers". */
    readonly operation: string,
    readonly socketPath: string,
    /** The gRPC status code name ("unavailable", "not_found", ...). */
    readonly code: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(`CRI ${operation} at ${socketPath}: ${message}`, options);
  }
}

export interface CriPodInfoOptions {
  /** `unix:///path/to.sock` (kubelet's --container-runtime-endpoint form) or a path. */
  endpoint?: string;
  logger?: Logger;
  /** Deadline of each CRI call. */
  callTimeoutMs?: number;
  /**
   * How often the runtime is listed again: that is how removed containers are noticed (containerd
   * 1.6 has no CRI event stream) and how containers nobody asked about are picked up. 0: never.
   */
  resyncIntervalMs?: number;
  /**
   * How long a container that left the runtime still resolves, for events that arrive late
   * (Tetragon keeps deleted pods in an LRU for the same reason). Counted from the first resync
   * that did not list it.
   */
  deletedRetentionMs?: number;
  /** After a refresh found no such container, refreshes of that id within this window do not ask again. */
  missRetryMs?: number;
}

/** What the source has done, for logs and metrics. */
export interface CriPodInfoCounters {
  /** Containers currently resolvable (running, exited, or removed but retained). */
  containers: number;
  /** CRI calls that failed. */
  errors: number;
  /** Refreshes that asked the runtime, and how many of them found the container. */
  refreshes: number;
  refreshesFound: number;
  /** Entries dropped after their retention. */
  removed: number;
}

const DEFAULTS = {
  callTimeoutMs: 5000,
  resyncIntervalMs: 30_000,
  deletedRetentionMs: 5 * 60_000,
  missRetryMs: 1000,
};
const STATUS_CONCURRENCY = 8;
/** Bound on remembered misses: ids that are not containers (a host cgroup named like one). */
const MAX_MISSES = 4096;

interface Known {
  sandboxId: string;
  /** CRI ContainerState; a change (created → running) re-reads the status for start_time. */
  state: number;
  /** performance.now() of the first resync that did not list it. */
  goneSince?: number;
}

/**
 * Pod metadata from the container runtime's CRI (`runtime.v1` over its unix socket): what the
 * runtime knows about the sandboxes and containers kubelet asked it to run. It answers lookups from
 * an in-memory index (Tetragon's informer contract: full id or ≥ 31-char prefix, a fresh object per
 * call), built by listing the runtime at start, extended by {@link refresh} for containers started
 * since and pruned by periodic relists. A runtime that is down is logged and counted, never thrown
 * at lookup or refresh; the connection is retried by the next call.
 */
export class CriPodInfoSource implements PodInfoSource {
  readonly kind = "cri";
  readonly socketPath: string;
  readonly #connection: CriConnection;
  readonly #logger: Logger;
  readonly #options: typeof DEFAULTS;
  readonly #index = new StaticPodInfoSource();
  readonly #known = new Map<string, Known>();
  readonly #sandboxes = new Map<string, PodSandbox | PodSandboxStatus>();
  readonly #inflight = new Map<string, Promise<void>>();
  readonly #misses = new Map<string, number>();
  #runtimeName = "";
  #timer: NodeJS.Timeout | undefined;
  #resyncing: Promise<boolean> | undefined;
  #failing = false;
  #closed = false;
  readonly #counters = { errors: 0, refreshes: 0, refreshesFound: 0, removed: 0 };

  private constructor(socketPath: string, logger: Logger, options: typeof DEFAULTS) {
    this.socketPath = socketPath;
    this.#logger = logger;
    this.#options = options;
    this.#connection = connectCri(socketPath, options.callTimeoutMs);
  }

  /**
   * Connects, asks the runtime's name (Version) and lists its sandboxes and containers. Rejects
   * with a {@link CriError} when the runtime cannot be reached now: a wrong endpoint should stop
   * the agent at start rather than leave it without pod metadata.
   */
  static async start(options: CriPodInfoOptions = {}): Promise<CriPodInfoSource> {
    const socketPath = criSocketPath(options.endpoint ?? DEFAULT_CRI_SOCKET);
    const settings = {
      callTimeoutMs: options.callTimeoutMs ?? DEFAULTS.callTimeoutMs,
      resyncIntervalMs: options.resyncIntervalMs ?? DEFAULTS.resyncIntervalMs,
      deletedRetentionMs: options.deletedRetentionMs ?? DEFAULTS.deletedRetentionMs,
      missRetryMs: options.missRetryMs ?? DEFAULTS.missRetryMs,
    };
    const source = new CriPodInfoSource(socketPath, options.logger ?? pino({ level: "silent" }), settings);
    let runtime = "";
    try {
      const version = await source.#call("Version", () => source.#connection.runtime.version({}));
      source.#runtimeName = version.runtimeName;
      runtime = `${version.runtimeName} ${version.runtimeVersion} (CRI ${version.runtimeApiVersion})`;
      await source.#sync();
    } catch (err) {
      await source.close();
      throw err;
    }
    source.#logger.info(
      { socket: socketPath, runtime, containers: source.#index.size },
      "CRI pod metadata source started",
    );
    if (settings.resyncIntervalMs > 0) {
      source.#timer = setInterval(() => void source.resync(), settings.resyncIntervalMs).unref();
    }
    return source;
  }

  /** The runtime's name as the CRI reports it ("containerd"): the scheme of `container.id`. */
  get runtimeName(): string {
    return this.#runtimeName;
  }

  counters(): CriPodInfoCounters {
    return { containers: this.#index.size, ...this.#counters };
  }

  /** See PodInfoSource.onUpdate: every container the index learns or updates. */
  onUpdate(listener: (containerId: string) => void): () => void {
    return this.#index.onUpdate(listener);
  }

  lookup(containerId: string): Pod | undefined {
    return this.#index.lookup(containerId);
  }

  refresh(containerId: string): Promise<void> {
    const id = unqualifiedContainerId(containerId);
    if (id === "" || this.#closed || this.#index.lookup(id)) return Promise.resolve();
    const missedAt = this.#misses.get(id);
    if (missedAt !== undefined && performance.now() - missedAt < this.#options.missRetryMs) {
      return Promise.resolve();
    }
    const running = this.#inflight.get(id);
    if (running) return running;
    const done = this.#refresh(id)
      .catch((err) => this.#failed("refresh", err, { containerId: id }))
      .finally(() => this.#inflight.delete(id));
    this.#inflight.set(id, done);
    return done;
  }

  /**
   * Lists the runtime again now (what the timer does): adds containers not yet known, notes the
   * ones that are gone and drops those gone for longer than the retention. Never rejects; resolves
   * false when the runtime could not be listed.
   */
  resync(): Promise<boolean> {
    if (this.#closed) return Promise.resolve(false);
    // One relist at a time: a slow runtime must not pile up timer-driven ones.
    this.#resyncing ??= this.#sync()
      .then(
        () => true,
        (err) => {
          this.#failed("resync", err);
          return false;
        },
      )
      .finally(() => {
        this.#resyncing = undefined;
      });
    return this.#resyncing;
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    await Promise.allSettled([...this.#inflight.values(), this.#resyncing]);
    this.#connection.close();
  }

  async #refresh(id: string): Promise<void> {
    this.#counters.refreshes++;
    // ListContainers, not ContainerStatus: only the list names the container's sandbox. containerd
    // (like CRI-O) resolves a unique id prefix in the filter.
    const { containers } = await this.#call("ListContainers", () =>
      this.#connection.runtime.listContainers({ filter: { id } }),
    );
    const container = containers.length === 1 ? containers[0] : undefined;
    const found = container !== undefined && (await this.#add(container));
    this.#succeeded();
    if (!found) {
      if (this.#misses.size >= MAX_MISSES) this.#misses.clear();
      this.#misses.set(id, performance.now());
      return;
    }
    this.#misses.delete(id);
    this.#counters.refreshesFound++;
  }

  async #sync(): Promise<void> {
    const runtime = this.#connection.runtime;
    const [{ items }, { containers }] = await Promise.all([
      this.#call("ListPodSandbox", () => runtime.listPodSandbox({})),
      this.#call("ListContainers", () => runtime.listContainers({})),
    ]);
    for (const sandbox of items) this.#sandboxes.set(sandbox.id, sandbox);
    const listed = new Set<string>();
    const toRead: Container[] = [];
    for (const container of containers) {
      listed.add(container.id);
      const known = this.#known.get(container.id);
      if (known && known.state === container.state) known.goneSince = undefined;
      else toRead.push(container);
    }
    // A few status calls at a time: fast on a full node at start, gentle on the runtime.
    for (let i = 0; i < toRead.length; i += STATUS_CONCURRENCY) {
      await Promise.all(toRead.slice(i, i + STATUS_CONCURRENCY).map((c) => this.#add(c)));
    }
    this.#prune(listed, new Set(items.map((s) => s.id)));
    this.#succeeded();
  }

  /**
   * Reads the container's status (start time and image references are only there) and, if its
   * sandbox is new, the sandbox's; then indexes it. False when it went away in the meantime.
   */
  async #add(container: Container): Promise<boolean> {
    const runtime = this.#connection.runtime;
    try {
      const { status } = await this.#call("ContainerStatus", () =>
        runtime.containerStatus({ containerId: container.id }),
      );
      let sandbox = this.#sandboxes.get(container.podSandboxId);
      if (!sandbox) {
        const response = await this.#call("PodSandboxStatus", () =>
          runtime.podSandboxStatus({ podSandboxId: container.podSandboxId }),
        );
        sandbox = response.status;
        if (sandbox) this.#sandboxes.set(sandbox.id, sandbox);
      }
      if (!status || !sandbox) return false;
      this.#index.add(podFromCri(this.#runtimeName, sandbox, status));
      this.#known.set(status.id, { sandboxId: container.podSandboxId, state: status.state });
      return true;
    } catch (err) {
      // Removed between the list and the status call: nothing to index, nothing wrong.
      if (err instanceof CriError && err.code === codeName(Code.NotFound)) return false;
      throw err;
    }
  }

  #prune(listedContainers: Set<string>, listedSandboxes: Set<string>): void {
    const now = performance.now();
    for (const [id, known] of this.#known) {
      if (listedContainers.has(id)) continue;
      known.goneSince ??= now;
      if (now - known.goneSince < this.#options.deletedRetentionMs) continue;
      this.#index.remove(id);
      this.#known.delete(id);
      this.#counters.removed++;
    }
    const inUse = new Set([...this.#known.values()].map((k) => k.sandboxId));
    for (const id of this.#sandboxes.keys()) {
      if (!listedSandboxes.has(id) && !inUse.has(id)) this.#sandboxes.delete(id);
    }
  }

  async #call<T>(operation: string, rpc: () => Promise<T>): Promise<T> {
    try {
      return await rpc();
    } catch (err) {
      const ce = ConnectError.from(err);
      // A missing socket file (ENOENT) comes back as Internal; it means the runtime is not there.
      const cause = ce.cause as NodeJS.ErrnoException | undefined;
      const code = cause?.code === "ENOENT" ? Code.Unavailable : ce.code;
      throw new CriError(operation, this.socketPath, codeName(code), ce.rawMessage, { cause: err });
    }
  }

  /** Logs the first failure of a run at warn and the rest at debug: a runtime that is down is one incident. */
  #failed(during: string, err: unknown, fields: Record<string, unknown> = {}): void {
    this.#counters.errors++;
    const level = this.#failing ? "debug" : "warn";
    this.#failing = true;
    this.#logger[level]({ err, during, ...fields }, "CRI pod metadata unavailable");
  }

  #succeeded(): void {
    if (!this.#failing) return;
    this.#failing = false;
    this.#logger.info({ socket: this.socketPath }, "CRI pod metadata source reconnected");
  }
}

function codeName(code: Code): string {
  // "NotFound" → "not_found": the gRPC status names as they appear on the wire and in logs.
  return Code[code].replace(/[A-Z]/g, (c, i) => (i === 0 ? c.toLowerCase() : `_${c.toLowerCase()}`));
}
