import type { MessageInitShape } from "@bufbuild/protobuf";
import type {
  EventPredicate,
  GetInfoResponseSchema,
  HealthStatus,
  PipelineHealthSchema,
  TracingPolicyMode,
  TracingPolicyStatus,
} from "@nsguard/sdk";
import type { HubEvent } from "./hub-event.js";

/**
 * The small interfaces the routes are written against. The agent implements them; tests use
 * the real `EventHub` and tiny in-memory stores. Nothing here reaches the kernel, so the
 * whole API is testable without root.
 */

export interface SubscribeOptions {
  /**
   * Runs when the event is published (typically `compileFilters` from @nsguard/sdk); events
   * it rejects never take queue space.
   */
  filter?: EventPredicate | undefined;
  /** The subscription ends (and its queue is released) when this aborts. */
  signal: AbortSignal;
  /** Queue capacity for this subscriber; the source's default when unset. */
  queueSize?: number | undefined;
  /** Queue capacity in encoded bytes for this subscriber; the source's default when unset. */
  queueBytes?: number | undefined;
  /** A name for stats and logs, e.g. "grpc GetEvents grpc-go/1.60". */
  label?: string | undefined;
}

/** Where GetEvents streams take their events from: the event hub, or anything like it. */
export interface EventSource {
  subscribe(options: SubscribeOptions): AsyncIterable<HubEvent>;
}

/** Tetragon's default policy domain for the gRPC API. */
export const GRPC_POLICY_DOMAIN = "grpc";

export interface ConfigureTracingPolicyOptions {
  name: string;
  /** "" for a cluster-wide policy. */
  namespace: string;
  /** Never empty: the server applies the "grpc" default. */
  domain: string;
  /** Unset: leave enabled/disabled as it is. */
  enable?: boolean | undefined;
  /** Unset: leave the mode as it is. */
  mode?: TracingPolicyMode | undefined;
}

/**
 * Tracing-policy management behind Add/Delete/List/ConfigureTracingPolicy. The server applies
 * Tetragon's request defaults before calling (an empty domain becomes "grpc" for every
 * mutating call; `list` gets undefined for "all domains"). Throw `PolicyError` for bad YAML,
 * an errno-carrying error for kernel failures, `PolicyNotFoundError` for unknown policies and
 * `PolicyExistsError` for a duplicate: `errors.ts` maps them to Connect codes by type.
 */
export interface PolicyStore {
  add(yaml: string, domain: string): Promise<void> | void;
  delete(name: string, namespace: string, domain: string): Promise<void> | void;
  list(domain?: string): Promise<TracingPolicyStatus[]> | TracingPolicyStatus[];
  configure(options: ConfigureTracingPolicyOptions): Promise<void> | void;
  /** Known domains for ListDomains; when absent, the domains of the listed policies. */
  domains?(): Promise<string[]> | string[];
}

/** Answers GetHealth. When the server has none, it reports Tetragon's single "running" status. */
export interface HealthSource {
  /** Without it: Tetragon's single "running" status. */
  health?(): Promise<HealthStatus[]> | HealthStatus[];
  /** nsguard's pipeline counters (GetHealthStatusResponse.pipeline, field 10000). */
  pipeline?(): PipelineHealthInit;
}

/** What a health source fills in of tetragon.PipelineHealth. */
export type PipelineHealthInit = Omit<MessageInitShape<typeof PipelineHealthSchema>, "$typeName">;

/** GetInfo content besides `version` and `name`, which the server fills in. */
export type ServerInfo = Omit<
  MessageInitShape<typeof GetInfoResponseSchema>,
  "version" | "name" | "$typeName"
>;

export interface ServerDeps {
  events: EventSource;
  /** Without it the policy RPCs answer Unimplemented. */
  policies?: PolicyStore | undefined;
  health?: HealthSource | undefined;
  /** GetVersion / GetInfo version string. */
  version: string;
  info?: ServerInfo | undefined;
  /** Per-stream queue size (Tetragon's --event-queue-size); the event source's default when unset. */
  eventQueueSize?: number | undefined;
  /** Per-stream bound on the encoded bytes queued; the event source's default when unset. */
  eventQueueBytes?: number | undefined;
  /**
   * Serve the deprecated EnableTracingPolicy/DisableTracingPolicy RPCs (as Tetragon's
   * --enable-deprecated-tracingpolicy-grpc does). Default false: they are refused.
   */
  enableDeprecatedTracingPolicyGrpc?: boolean | undefined;
}
