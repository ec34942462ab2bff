import { readFileSync } from "node:fs";
import { loadTracingPolicyFile } from "@nsguard/policy";
import { bootClockOffsetNs, hostNamespaceInums, peerCredentials, Sensor, trimMemory } from "@nsguard/sensor";
import {
  createFineGuidanceSensorsRoutes,
  EventHub,
  type PipelineHealthInit,
  type RunningServer,
  startServer,
} from "@nsguard/server";
import pino, { type Logger } from "pino";
import { BootClock } from "./clock.js";
import { startPodInfoSources } from "./container/pod-sources.js";
import { EventCache } from "./event-cache.js";
import { compileExportFilters } from "./export/export-filters.js";
import { JsonExporter } from "./export/json-exporter.js";
import { ThrottleMonitor } from "./flood/throttle-monitor.js";
import { infoFileContent, removeInfoFile, writeInfoFile } from "./info-file.js";
import { startHealthServer } from "./lifecycle/health-server.js";
import { EventMetrics, type PodLabel } from "./metrics/event-metrics.js";
import { createMetricsRegistry, registerExportMetrics, startMetricsServer } from "./metrics/metrics.js";
import { resolveNodeName } from "./node-name.js";
import { type EventSink, Observer } from "./observer.js";
import { PolicyDirectory } from "./policies/policy-directory.js";
import { AgentPolicyStore, STATIC_POLICY_DOMAIN } from "./policies/policy-store.js";
import { ProcessCache } from "./process/process-cache.js";
import { kernelSeedOf, readNamespaces, scanProcfs } from "./process/procfs.js";
import { scanContainerCgroups } from "./scope/container-cgroups.js";
import { ScopeMaintainer } from "./scope/scope-maintainer.js";
import { ScopedPolicyLoader } from "./scope/scoped-policy-loader.js";
import { AGENT_VERSION } from "./version.js";

const CLOCK_REFRESH_MS = 60_000;
/**
 * How often freed malloc memory goes back to the kernel (a burst's buffers otherwise keep the
 * agent's RSS at its peak; measured: 180 → 136 MB after a 100k events/s run).
 */
const MEMORY_TRIM_MS = 10_000;
/** How often the kernel's suppression counter is read (one per-CPU counter read while calm). */
const THROTTLE_POLL_MS = 250;
/**
 * How often the workload scopes re-walk the cgroup filesystems (containers that have not exec'd
 * since the agent started, cgroups that are gone, changed pod labels). New containers do not wait
 * for it: their first exec puts them in scope.
 */
const SCOPE_RESYNC_MS = 5_000;
/**
 * At stop, how long listeners (gRPC streams, the export) get to take the events already queued
 * for them before their streams are ended: a live client and the export file get everything the
 * agent built; a stalled client cannot hold the stop beyond this.
 */
const STOP_DRAIN_MS = 2000;
/** How often the drain looks at the queues. */
const STOP_DRAIN_POLL_MS = 10;
/**
 * `nsguard agent`'s bound on a signalled stop: past it the process exits anyway (BPF programs
 * and links go with its file descriptors). Above the drain (2 s) + the server's close grace (1 s).
 */
export const SHUTDOWN_BOUND_MS = 5000;
/** Exit code of a stop that overran SHUTDOWN_BOUND_MS (or was cut short by a second signal). */
export const HARD_EXIT_CODE = 2;

export interface AgentOptions {
  /** Policy files loaded at start-up (Tetragon's "static" domain). */
  tracingPolicies: string[];
  /**
   * A directory of policy files (Tetragon's --tracing-policy-dir), loaded at start and followed
   * while the agent runs (policies/policy-directory.ts). Unset: none; nsguard has no default
   * directory, so a policy never appears from a path nobody named. A named directory that does
   * not exist fails the start.
   */
  tracingPolicyDir?: string;
  /** gRPC TCP listen address; "" disables the TCP listener. */
  serverAddress: string;
  /** gRPC unix socket path; "" disables the socket. */
  serverSocket: string;
  /**
   * The unix socket's group (gid): the socket becomes 0660 root:group instead of 0600, and
   * the group's members may change policies through it, as root may.
   */
  serverSocketGroup?: number;
  /**
   * TLS on the TCP listener (Tetragon's --server-tls-* flags). A client certificate verified
   * against `clientCaFiles` may change policies over TCP; `requireClientCert` refuses clients
   * without one, reads included.
   */
  serverTls?: {
    certFile: string;
    keyFile: string;
    clientCaFiles?: string[];
    requireClientCert?: boolean;
  };
  /** Node name stamped on events and exec_ids; default $HUBBLE_NODE_NAME, $NODE_NAME, hostname. */
  nodeName?: string;
  /** Per-listener event queue length. */
  eventQueueSize: number;
  /** Per-listener bound on queued encoded bytes; default the hub's (32 MiB). */
  eventQueueBytes?: number;
  /** JSON export (Tetragon's --export-filename): a file, or "-" for standard output; unset: none. */
  exportFilename?: string;
  /** --export-file-max-size-mb: rotate the export file at this size (default 10). */
  exportFileMaxSizeMb?: number;
  /** --export-file-rotation-interval, in ms: also rotate this often (default 0: by size only). */
  exportFileRotationIntervalMs?: number;
  /** --export-file-max-backups: rotated files kept (default 5; 0 keeps all). */
  exportFileMaxBackups?: number;
  /** --export-file-compress: gzip rotated files. */
  exportFileCompress?: boolean;
  /** --export-file-perm: the export files' mode (default 0o600). */
  exportFilePerm?: number;
  /** --export-rate-limit: exported events per minute; -1 (default) unlimited, 0 none. */
  exportRateLimit?: number;
  /** --export-allowlist: tetragon.Filter JSON objects, one a line; only matching events are exported. */
  exportAllowlist?: string;
  /** --export-denylist: tetragon.Filter JSON objects, one a line; matching events are not exported. */
  exportDenylist?: string;
  /** --field-filters: tetragon.FieldFilter JSON objects, one a line, applied to exported events. */
  fieldFilters?: string;
  logLevel: string;
  /** Pod metadata file (container id → pod) where no Kubernetes API is reachable. */
  podInfoFile?: string;
  /**
   * podman REST API socket (`podman system service`) to read pod metadata from; unset or "": none.
   * The agent starts even when nothing answers there yet, and keeps trying.
   */
  podmanSocket?: string;
  /**
   * Pod metadata from the container runtime's CRI: `unix:///run/containerd/containerd.sock` or a
   * socket path; unset or "": none. An unreachable runtime fails the start, unless the endpoint
   * was discovered at its standard path rather than named (criEndpointDiscovered): then it is
   * logged and skipped (a containerd without the CRI plugin, e.g. docker's).
   */
  criEndpoint?: string;
  criEndpointDiscovered?: boolean;
  /**
   * Pod metadata from the Kubernetes API (Tetragon's --enable-k8s-api): a watch on this node's
   * pods. `kubeconfig` as --k8s-kubeconfig-path (default: in-cluster); `nodeName` defaults to
   * the agent's node name. Start-up waits for the first pod list.
   */
  kubernetes?: { kubeconfig?: string; nodeName?: string };
  /** Directory of the BPF objects; default: the built bpf/.output. */
  bpfDir?: string;
  /** Prometheus endpoint address (Tetragon's --metrics-server, e.g. ":2112"); unset: none. */
  metricsServer?: string;
  /** Pod labels on the per-event metrics (Tetragon's --metrics-label-filter); default all four. */
  metricsLabelFilter?: PodLabel[];
  /** Distinct label sets kept per labelled metric before folding into _overflow_ (event-metrics.ts). */
  metricsMaxLabelSets?: number;
  /** HTTP liveness/readiness probes, /healthz and /readyz (health-server.ts); unset: none. */
  healthServerAddress?: string;
  /** `ns` on every process, with `is_host` (Tetragon's --enable-process-ns); default off. */
  enableProcessNs?: boolean;
  /** `cap` and `process_credentials` on every process (Tetragon's --enable-process-cred); default off. */
  enableProcessCred?: boolean;
  /** Where to write the info file clients find the agent by (info-file.ts); unset: none. Removed on stop. */
  infoFile?: string;
  /**
   * runAgent: the log level as the configuration says now, asked on SIGHUP (the CLI re-reads its
   * configuration files); throws, with one line, when the new value is invalid. Unset: SIGHUP
   * changes nothing.
   */
  reloadLogLevel?: () => string;
}

export interface RunningAgent {
  readonly nodeName: string;
  readonly server: RunningServer;
  readonly hub: EventHub;
  readonly policies: AgentPolicyStore;
  /** The --tracing-policy-dir watcher, when one was named. */
  readonly policyDirectory: PolicyDirectory | undefined;
  readonly sensor: Sensor;
  readonly observer: Observer;
  /** The /metrics URL when a metrics server runs. */
  readonly metricsUrl: string | undefined;
  /** The probes' base URL (`http://host:port`, then /healthz, /readyz) when a health server runs. */
  readonly healthUrl: string | undefined;
  stop(): Promise<void>;
}

/**
 * Starts the agent: sensor (kernel programs and ring-buffer reader) → process cache (seeded from
 * /proc) → policies → gRPC server. Every input is validated before the kernel is touched, and a
 * failure part-way undoes what was started.
 */
export async function startAgent(
  options: AgentOptions,
  logger: Logger = pino({ level: "silent" }),
): Promise<RunningAgent> {
  // Validate everything user-supplied first: a bad policy file must change nothing.
  for (const file of options.tracingPolicies) await loadTracingPolicyFile(file);
  // The directory must exist; its files' own faults are reported per file, never fatal.
  if (options.tracingPolicyDir !== undefined) await PolicyDirectory.check(options.tracingPolicyDir);
  const exportFilters = {
    allowList: options.exportAllowlist,
    denyList: options.exportDenylist,
    fieldFilters: options.fieldFilters,
  };
  // Compiled again by the exporter; this only makes a bad filter fail before the kernel is touched.
  if (options.exportFilename) compileExportFilters(exportFilters);
  const nodeName = resolveNodeName({ explicit: options.nodeName });
  // Probes answer from the start: alive while starting, ready once everything below is in.
  let phase: "starting" | "ready" | "stopping" = "starting";
  let sensor: Sensor | undefined;
  const health = options.healthServerAddress
    ? await startHealthServer(options.healthServerAddress, {
        live: () =>
          phase === "ready" && sensor !== undefined && !sensor.counters().reader.running
            ? { ok: false, reason: "the ring-buffer reader stopped" }
            : { ok: true, reason: "ok" },
        ready: () => ({ ok: phase === "ready", reason: phase }),
      })
    : undefined;
  // Runtimes are asked now, before the kernel is touched: a CRI or Kubernetes API that cannot be
  // reached fails the start.
  let podInfo: Awaited<ReturnType<typeof startPodInfoSources>>;
  try {
    podInfo = await startPodInfoSources(options, nodeName, logger);
  } catch (err) {
    await health?.close();
    throw err;
  }
  const hub = new EventHub({ queueSize: options.eventQueueSize, queueBytes: options.eventQueueBytes });
  // The clock's offset needs the native addon, which the sensor loads; set for real below.
  const context = {
    nodeName,
    clock: new BootClock(0n),
    includeNamespaces: options.enableProcessNs ?? false,
    includeCredentials: options.enableProcessCred ?? false,
    // is_host: the kernel's initial namespaces, as the verdicts' to_host; Tetragon reads pid 1's,
    // which this falls back to on kernels whose BTF lacks them (unreadable on some machines).
    hostNamespaces: options.enableProcessNs ? (hostNamespaceInums() ?? readNamespaces("/proc/1")) : undefined,
  };
  const cache = new ProcessCache({ nodeName, clock: context.clock, podInfo });
  let server: RunningServer | undefined;
  let exporter: JsonExporter | undefined;
  let clockRefresh: NodeJS.Timeout | undefined;
  let throttlePoll: NodeJS.Timeout | undefined;
  let memoryTrim: NodeJS.Timeout | undefined;
  let throttles: ThrottleMonitor | undefined;
  let scopeResync: NodeJS.Timeout | undefined;
  let scopes: ScopeMaintainer | undefined;
  let metrics: Awaited<ReturnType<typeof startMetricsServer>> | undefined;
  // Per-event metrics are counted where events are published, after the event cache has added
  // the pod; without a metrics server nothing is counted.
  const eventMetrics = options.metricsServer
    ? new EventMetrics({ labelFilter: options.metricsLabelFilter, maxLabelSets: options.metricsMaxLabelSets })
    : undefined;
  const published = eventMetrics ? countingSink(hub, eventMetrics) : hub;
  // Events of containers whose pod is not known yet wait for it (bounded, then sent without).
  const eventCache = podInfo ? new EventCache({ podInfo, cache, sink: published }) : undefined;
  const observer = new Observer({
    cache,
    sink: eventCache ?? published,
    context,
    hookInfo: (hookId) => sensor?.hookInfo(hookId),
    recordAction: (key, action) => policies?.recordAction(key, action),
    observeContainer: (cgroupId, containerId) => scopes?.observe(cgroupId, containerId),
    onError: (err, raw) =>
      logger.warn({ err, op: raw.op }, "dropped a kernel record that could not be handled"),
  });
  let policies: AgentPolicyStore | undefined;
  let policyDirectory: PolicyDirectory | undefined;
  try {
    sensor = Sensor.start({ onEvents: (batch) => observer.handleBatch(batch), bpfDir: options.bpfDir });
    const kernel = sensor;
    throttles = new ThrottleMonitor({
      suppressedTotal: () => kernel.counters().kernel.throttled,
      sources: () => kernel.sources(),
      // Priority: a flood's throttle report must not be evicted by the flood it reports.
      publish: (event) => published.publish(event, { source: 0, priority: true }),
      nodeName,
    });
    const monitor = throttles;
    throttlePoll = setInterval(() => monitor.tick(performance.now()), THROTTLE_POLL_MS).unref();
    memoryTrim = setInterval(trimMemory, MEMORY_TRIM_MS).unref();
    // Wall time = boot clock + offset; the offset moves when the wall clock is stepped (NTP,
    // settimeofday), so it is sampled again now and then rather than once for the agent's life.
    const refreshClock = () => {
      context.clock = new BootClock(bootClockOffsetNs());
      cache.setClock(context.clock);
    };
    refreshClock();
    clockRefresh = setInterval(refreshClock, CLOCK_REFRESH_MS).unref();

    // Processes that predate the sensor: the exec/fork programs are already attached, so
    // nothing started after this scan can be missed.
    const records = scanProcfs({ nodeName, clock: context.clock, podInfo });
    cache.seedFromProcfs(records);
    sensor.seedProcesses(records.map(kernelSeedOf));
    logger.info({ processes: records.length }, "process cache seeded from /proc");

    // Workload scopes (podSelector, containerSelector, TracingPolicyNamespaced): the containers
    // on the node now, then every exec and a periodic re-walk.
    const scoped = new ScopeMaintainer({ map: sensor, podInfo, scan: () => scanContainerCgroups(), logger });
    scopes = scoped;
    scoped.resync();
    scopeResync = setInterval(() => scoped.resync(), SCOPE_RESYNC_MS).unref();
    policies = new AgentPolicyStore(new ScopedPolicyLoader(sensor, scoped));
    for (const file of options.tracingPolicies) {
      await policies.add(readFileSync(file, "utf8"), STATIC_POLICY_DOMAIN, file);
      logger.info({ file }, "tracing policy loaded");
    }
    if (options.tracingPolicyDir !== undefined) {
      policyDirectory = await PolicyDirectory.open(options.tracingPolicyDir, policies, logger);
    }

    if (options.exportFilename) {
      exporter = await JsonExporter.start(hub, {
        filename: options.exportFilename,
        maxSizeMb: options.exportFileMaxSizeMb,
        rotationIntervalMs: options.exportFileRotationIntervalMs,
        maxBackups: options.exportFileMaxBackups,
        compress: options.exportFileCompress,
        mode: options.exportFilePerm,
        rateLimit: options.exportRateLimit,
        filters: exportFilters,
        nodeName,
        onError: (err) => logger.warn({ err, exportFilename: options.exportFilename }, "JSON export"),
      });
    }
    server = await startServer({
      routes: createFineGuidanceSensorsRoutes({
        events: hub,
        policies,
        version: AGENT_VERSION,
        health: { pipeline: () => pipelineHealth(kernel, hub, monitor) },
      }),
      getEvents: { source: hub, queueSize: options.eventQueueSize, queueBytes: options.eventQueueBytes },
      tcpAddress: options.serverAddress,
      unixSocket: options.serverSocket,
      // Who may change policies: the server's access control (packages/server/src/access.ts).
      unixSocketGroup: options.serverSocketGroup,
      unixSocketControl: { peerCredentials },
      tls: options.serverTls && {
        cert: readFileSync(options.serverTls.certFile),
        key: readFileSync(options.serverTls.keyFile),
        clientCa: options.serverTls.clientCaFiles?.map((file) => readFileSync(file)),
        requireClientCert: options.serverTls.requireClientCert,
      },
    });
    if (options.metricsServer) {
      const { sensor: s, policies: p } = { sensor, policies };
      const registry = createMetricsRegistry({
        kernel: () => s.counters().kernel,
        reader: () => s.counters().reader,
        observer: () => observer.stats,
        hub: () => hub.stats(),
        processCache: () => ({ ...cache.stats(), capacity: cache.capacity }),
        eventCache: () => eventCache?.stats(),
        throttledSources: () => monitor.throttledSources,
        policyStates: () => p.list().map((status) => status.state),
        events: eventMetrics as EventMetrics,
      });
      const exported = exporter;
      registerExportMetrics(registry, () => exported?.stats());
      metrics = await startMetricsServer(registry, options.metricsServer);
    }
    if (options.infoFile) {
      const info = infoFileContent(server.addresses, {
        metricsAddress: metrics?.url.replace(/^http:\/\/|\/metrics$/g, ""),
        exportFilename: options.exportFilename,
      });
      // As in Tetragon, a missing info file costs clients their default address, not the agent.
      try {
        writeInfoFile(options.infoFile, info);
      } catch (err) {
        logger.warn({ err, infoFile: options.infoFile }, "cannot write the info file");
      }
    }
    phase = "ready";
    logger.info(
      { addresses: server.addresses, metrics: metrics?.url, health: health?.url, nodeName },
      "nsguard agent running",
    );
  } catch (err) {
    clearInterval(clockRefresh);
    clearInterval(throttlePoll);
    clearInterval(memoryTrim);
    await policyDirectory?.close();
    clearInterval(scopeResync);
    scopes?.close();
    observer.close();
    await metrics?.close();
    await server?.close();
    await exporter?.close();
    await sensor?.stop();
    await podInfo?.close?.();
    await health?.close();
    throw err;
  }

  const running = { sensor, server, policies, policyDirectory };
  let stopping: Promise<void> | undefined;
  return {
    nodeName,
    hub,
    observer,
    metricsUrl: metrics?.url,
    healthUrl: health?.url,
    ...running,
    stop() {
      // The order matters: nothing new enters (BPF detached first), what was built reaches the
      // listeners, then the streams end and the export file is flushed.
      stopping ??= (async () => {
        phase = "stopping";
        if (options.infoFile) removeInfoFile(options.infoFile);
        clearInterval(clockRefresh);
        clearInterval(throttlePoll);
        clearInterval(memoryTrim);
        clearInterval(scopeResync);
        scopes?.close();
        throttles?.close();
        await running.policyDirectory?.close();
        const t0 = performance.now();
        await running.sensor.stop();
        const unread = observer.backlog;
        observer.close();
        // Events still waiting for pod metadata go out without it rather than being lost.
        eventCache?.close();
        const t1 = performance.now();
        const undelivered = await drainListeners(hub, STOP_DRAIN_MS);
        const t2 = performance.now();
        await running.server.close();
        const t3 = performance.now();
        await exporter?.close();
        logger.info(
          {
            unreadRecords: unread,
            undelivered,
            exported: exporter?.stats().written,
            ms: {
              sensor: Math.round(t1 - t0),
              drain: Math.round(t2 - t1),
              server: Math.round(t3 - t2),
              export: Math.round(performance.now() - t3),
            },
          },
          "pipeline stopped",
        );
        await metrics?.close();
        await podInfo?.close?.();
        await health?.close();
      })();
      return stopping;
    },
  };
}

/** The hub, with every published event counted in the per-event metrics on its way in. */
function countingSink(hub: EventHub, metrics: EventMetrics): EventSink {
  return {
    publish(event, meta) {
      metrics.record(event);
      hub.publish(event, meta);
    },
    get saturated() {
      return hub.saturated;
    },
    onRoom: (listener) => hub.onRoom(listener),
  };
}

/**
 * Waits until every listener's queue is empty, or `timeoutMs`; resolves with the events still
 * queued then, by listener (a stalled listener's, which the stop does not wait for).
 */
async function drainListeners(hub: EventHub, timeoutMs: number): Promise<Record<string, number>> {
  const behind = () => hub.stats().perSubscriber.filter((s) => s.queueLength > 0);
  const deadline = performance.now() + timeoutMs;
  while (behind().length > 0 && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, STOP_DRAIN_POLL_MS));
  }
  return Object.fromEntries(behind().map((s) => [s.label, s.queueLength]));
}

/** GetHealth's pipeline counters: every stage that can lose an event, with its count. */
function pipelineHealth(sensor: Sensor, hub: EventHub, throttles: ThrottleMonitor): PipelineHealthInit {
  const { kernel, reader } = sensor.counters();
  const stats = hub.stats();
  return {
    kernelSubmitted: kernel.events,
    ringbufLost: kernel.ringbufFull,
    floodSuppressed: kernel.throttled,
    readerDropped: BigInt(reader.droppedEvents),
    published: BigInt(stats.published),
    listenerDropped: BigInt(stats.dropped),
    throttledSources: throttles.throttledSources,
    listeners: stats.perSubscriber.map((s) => ({
      label: s.label,
      queued: BigInt(s.queued),
      delivered: BigInt(s.delivered),
      dropped: BigInt(s.dropped + s.evicted),
      queueLength: BigInt(s.queueLength),
      queuedBytes: BigInt(s.queuedBytes),
    })),
  };
}

/**
 * One line a user can act on, never a stack trace: policy and sensor errors are written that way
 * (file:line:col: path: problem; hook: what the kernel lacks), and anything else is cut to its
 * first line.
 */
export function describeStartupError(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split("\n")[0] ?? message;
}

/**
 * `nsguard agent`: runs until SIGINT/SIGTERM, then detaches everything. Resolves with the exit
 * code: 0 after a clean stop, 1 when start-up failed (one clear line on stderr). SIGHUP
 * re-reads the log level (the daemon convention for "reload"; Tetragon's `tetra loglevel set`
 * is the SetDebug RPC), and a reload that fails keeps the level and says why.
 */
export async function runAgent(options: AgentOptions): Promise<number> {
  const logger = pino({ level: options.logLevel, base: undefined }, pino.destination(2));
  let agent: RunningAgent;
  try {
    agent = await startAgent(options, logger);
  } catch (err) {
    process.stderr.write(`nsguard agent: ${describeStartupError(err)}\n`);
    return 1;
  }
  const reload = () => {
    if (options.reloadLogLevel === undefined) return;
    try {
      const level = options.reloadLogLevel();
      if (level !== logger.level) {
        logger.level = level;
        logger.info({ logLevel: level }, "log level changed");
      }
    } catch (err) {
      logger.error({ reason: describeStartupError(err) }, "configuration reload failed; log level unchanged");
    }
  };
  process.on("SIGHUP", reload);
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once("SIGINT", () => resolve("SIGINT"));
    process.once("SIGTERM", () => resolve("SIGTERM"));
  });
  process.off("SIGHUP", reload);
  logger.info({ signal, boundMs: SHUTDOWN_BOUND_MS }, "stopping");
  const started = performance.now();
  // The bound holds whatever hangs (a stuck socket, a stalled disk): the kernel detaches the BPF
  // programs when the process's descriptors close, so exiting is always safe. Unref'd: a clean
  // stop leaves the event loop empty and the process exits at once.
  const hardExit = (reason: string) => {
    logger.error({ signal, elapsedMs: Math.round(performance.now() - started) }, reason);
    process.exit(HARD_EXIT_CODE);
  };
  setTimeout(
    () => hardExit(`shutdown did not finish within ${SHUTDOWN_BOUND_MS} ms; exiting without it`),
    SHUTDOWN_BOUND_MS,
  ).unref();
  const again = () => hardExit("second signal during shutdown; exiting at once");
  process.once("SIGINT", again);
  process.once("SIGTERM", again);
  await agent.stop();
  process.off("SIGINT", again);
  process.off("SIGTERM", again);
  logger.info({ elapsedMs: Math.round(performance.now() - started) }, "stopped");
  return 0;
}
