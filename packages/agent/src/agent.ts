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
import { createMetricsRegistry, registerExportMetrics, startMetricsServer } from "./metrics/metrics.js";
import { resolveNodeName } from "./node-name.js";
import { Observer } from "./observer.js";
import { AgentPolicyStore, STATIC_POLICY_DOMAIN } from "./policies/policy-store.js";
import { ProcessCache } from "./process/process-cache.js";
import { kernelSeedOf, readNamespaces, scanProcfs } from "./process/procfs.js";
import { AGENT_VERSION } from "./version.js";

const CLOCK_REFRESH_MS = 60_000;
/**
 * How often freed malloc memory goes back to the kernel (a burst's buffers otherwise keep the
 * agent's RSS at its peak; measured: 180 → 136 MB after a 100k events/s run).
 */
const MEMORY_TRIM_MS = 10_000;
/** How often the kernel's suppression counter is read (one per-CPU counter read while calm). */
const THROTTLE_POLL_MS = 250;

export interface AgentOptions {
  /** Policy files loaded at start-up (Tetragon's "static" domain). */
  tracingPolicies: string[];
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
  /** `ns` on every process, with `is_host` (Tetragon's --enable-process-ns); default off. */
  enableProcessNs?: boolean;
  /** `cap` and `process_credentials` on every process (Tetragon's --enable-process-cred); default off. */
  enableProcessCred?: boolean;
  /** Where to write the info file clients find the agent by (info-file.ts); unset: none. Removed on stop. */
  infoFile?: string;
}

export interface RunningAgent {
  readonly nodeName: string;
  readonly server: RunningServer;
  readonly hub: EventHub;
  readonly policies: AgentPolicyStore;
  readonly sensor: Sensor;
  readonly observer: Observer;
  /** The /metrics URL when a metrics server runs. */
  readonly metricsUrl: string | undefined;
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
  const exportFilters = {
    allowList: options.exportAllowlist,
    denyList: options.exportDenylist,
    fieldFilters: options.fieldFilters,
  };
  // Compiled again by the exporter; this only makes a bad filter fail before the kernel is touched.
  if (options.exportFilename) compileExportFilters(exportFilters);
  const nodeName = resolveNodeName({ explicit: options.nodeName });
  // Runtimes are asked now, before the kernel is touched: a CRI or Kubernetes API that cannot be
  // reached fails the start.
  const podInfo = await startPodInfoSources(options, nodeName, logger);
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
  let sensor: Sensor | undefined;
  let server: RunningServer | undefined;
  let exporter: JsonExporter | undefined;
  let clockRefresh: NodeJS.Timeout | undefined;
  let throttlePoll: NodeJS.Timeout | undefined;
  let memoryTrim: NodeJS.Timeout | undefined;
  let throttles: ThrottleMonitor | undefined;
  let metrics: Awaited<ReturnType<typeof startMetricsServer>> | undefined;
  // Events of containers whose pod is not known yet wait for it (bounded, then sent without).
  const eventCache = podInfo ? new EventCache({ podInfo, cache, sink: hub }) : undefined;
  const observer = new Observer({
    cache,
    sink: eventCache ?? hub,
    context,
    hookInfo: (hookId) => sensor?.hookInfo(hookId),
    recordAction: (key, action) => policies?.recordAction(key, action),
    onError: (err, raw) =>
      logger.warn({ err, op: raw.op }, "dropped a kernel record that could not be handled"),
  });
  let policies: AgentPolicyStore | undefined;
  try {
    sensor = Sensor.start({ onEvents: (batch) => observer.handleBatch(batch), bpfDir: options.bpfDir });
    const kernel = sensor;
    throttles = new ThrottleMonitor({
      suppressedTotal: () => kernel.counters().kernel.throttled,
      sources: () => kernel.sources(),
      // Priority: a flood's throttle report must not be evicted by the flood it reports.
      publish: (event) => hub.publish(event, { source: 0, priority: true }),
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

    policies = new AgentPolicyStore(sensor);
    for (const file of options.tracingPolicies) {
      await policies.add(readFileSync(file, "utf8"), STATIC_POLICY_DOMAIN, file);
      logger.info({ file }, "tracing policy loaded");
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
        processCacheSize: () => cache.size,
        eventCache: () => eventCache?.stats(),
        throttledSources: () => monitor.throttledSources,
        policies: () => p.list().length,
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
    logger.info({ addresses: server.addresses, metrics: metrics?.url, nodeName }, "nsguard agent running");
  } catch (err) {
    clearInterval(clockRefresh);
    clearInterval(throttlePoll);
    clearInterval(memoryTrim);
    observer.close();
    await metrics?.close();
    await server?.close();
    await exporter?.close();
    await sensor?.stop();
    await podInfo?.close?.();
    throw err;
  }

  const running = { sensor, server, policies };
  let stopping: Promise<void> | undefined;
  return {
    nodeName,
    hub,
    observer,
    metricsUrl: metrics?.url,
    ...running,
    stop() {
      stopping ??= (async () => {
        if (options.infoFile) removeInfoFile(options.infoFile);
        clearInterval(clockRefresh);
        clearInterval(throttlePoll);
        clearInterval(memoryTrim);
        throttles?.close();
        await metrics?.close();
        await running.server.close();
        await running.sensor.stop();
        observer.close();
        eventCache?.close();
        await exporter?.close();
        await podInfo?.close?.();
      })();
      return stopping;
    },
  };
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
 * code: 0 after a clean stop, 1 when start-up failed (one clear line on stderr).
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
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  logger.info("stopping");
  await agent.stop();
  return 0;
}
