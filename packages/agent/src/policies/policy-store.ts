import { create } from "@bufbuild/protobuf";
import {
  type CompiledPolicy,
  compileTracingPolicy,
  type PolicyMode,
  parseTracingPolicy,
} from "@nsguard/policy";
import {
  TracingPolicyActionCountersSchema,
  TracingPolicyMode,
  TracingPolicyState,
  TracingPolicyStatsSchema,
  type TracingPolicyStatus,
  TracingPolicyStatusSchema,
} from "@nsguard/sdk";
import {
  type ConfigureTracingPolicyOptions,
  PolicyExistsError,
  PolicyNotFoundError,
  type PolicyStore,
} from "@nsguard/server";

/** Where compiled policies go: the Sensor satisfies this (kept small so the store is testable). */
export interface PolicyLoader {
  loadPolicy(key: string, policy: CompiledPolicy): Promise<void>;
  unloadPolicy(key: string): Promise<void>;
}

/** Policies from --tracing-policy files (Tetragon's "static" domain). */
export const STATIC_POLICY_DOMAIN = "static";

interface Entry {
  id: bigint;
  key: string;
  domain: string;
  yaml: string;
  source: string | undefined;
  compiled: CompiledPolicy;
  state: TracingPolicyState;
  error: string;
  counters: { post: bigint; signal: bigint; monitorSignal: bigint };
}

function policyKey(domain: string, namespace: string, name: string): string {
  return `${domain}/${namespace}/${name}`;
}

function protoMode(mode: PolicyMode): TracingPolicyMode {
  return mode === "monitor" ? TracingPolicyMode.TP_MODE_MONITOR : TracingPolicyMode.TP_MODE_ENFORCE;
}

/**
 * The agent's tracing policies: parse → compile → load into the sensor, with Tetragon's
 * collection semantics (key = name + namespace + domain; a duplicate is refused unless the
 * existing entry failed to load). A policy that fails to parse or compile changes nothing; one
 * that fails to attach is not kept.
 */
export class AgentPolicyStore implements PolicyStore {
  private readonly entries = new Map<string, Entry>();
  private nextId = 1n;

  constructor(private readonly loader: PolicyLoader) {}

  async add(yaml: string, domain: string, source?: string): Promise<void> {
    const policy = parseTracingPolicy(yaml, source);
    const compiled = compileTracingPolicy(policy);
    const key = policyKey(domain, compiled.namespace ?? "", compiled.name);
    const existing = this.entries.get(key);
    if (existing && existing.state !== TracingPolicyState.TP_STATE_LOAD_ERROR) {
      throw new PolicyExistsError(
        `failed to add tracing policy ${compiled.name}: a policy with the key ${key} already exists`,
      );
    }
    await this.loader.loadPolicy(key, compiled);
    this.entries.set(key, {
      id: existing?.id ?? this.nextId++,
      key,
      domain,
      yaml,
      source,
      compiled,
      state: TracingPolicyState.TP_STATE_ENABLED,
      error: "",
      counters: { post: 0n, signal: 0n, monitorSignal: 0n },
    });
  }

  async delete(name: string, namespace: string, domain: string): Promise<void> {
    const entry = this.require(name, namespace, domain);
    if (entry.state === TracingPolicyState.TP_STATE_ENABLED) await this.loader.unloadPolicy(entry.key);
    this.entries.delete(entry.key);
  }

  list(domain?: string): TracingPolicyStatus[] {
    return [...this.entries.values()]
      .filter((e) => domain === undefined || domain === "" || e.domain === domain)
      .map((e) => this.status(e));
  }

  domains(): string[] {
    return [...new Set([...this.entries.values()].map((e) => e.domain))].sort();
  }

  async configure(options: ConfigureTracingPolicyOptions): Promise<void> {
    const entry = this.require(options.name, options.namespace, options.domain);
    const enabled = entry.state === TracingPolicyState.TP_STATE_ENABLED;
    const wantMode =
      options.mode === undefined || options.mode === TracingPolicyMode.TP_MODE_UNKNOWN
        ? entry.compiled.mode
        : options.mode === TracingPolicyMode.TP_MODE_MONITOR
          ? "monitor"
          : "enforce";
    const wantEnabled = options.enable ?? enabled;
    const recompiled =
      wantMode === entry.compiled.mode
        ? entry.compiled
        : compileTracingPolicy(parseTracingPolicy(entry.yaml, entry.source), { mode: wantMode });
    if (enabled && (!wantEnabled || recompiled !== entry.compiled)) {
      await this.loader.unloadPolicy(entry.key);
      entry.state = TracingPolicyState.TP_STATE_DISABLED;
    }
    entry.compiled = recompiled;
    if (wantEnabled && entry.state !== TracingPolicyState.TP_STATE_ENABLED) {
      await this.loader.loadPolicy(entry.key, entry.compiled);
      entry.state = TracingPolicyState.TP_STATE_ENABLED;
    }
  }

  /** Counts what the kernel did for a policy, for ListTracingPolicies' NPOST / NENFORCE. */
  recordAction(key: string, action: "post" | "sigkill" | "monitor-sigkill"): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    if (action === "post") entry.counters.post++;
    else if (action === "sigkill") entry.counters.signal++;
    else entry.counters.monitorSignal++;
  }

  private require(name: string, namespace: string, domain: string): Entry {
    const entry = this.entries.get(policyKey(domain, namespace, name));
    if (!entry)
      throw new PolicyNotFoundError(
        `tracing policy ${name} not found (namespace "${namespace}", domain "${domain}")`,
      );
    return entry;
  }

  private status(e: Entry): TracingPolicyStatus {
    return create(TracingPolicyStatusSchema, {
      id: e.id,
      name: e.compiled.name,
      namespace: e.compiled.namespace ?? "",
      sensors: ["generic_kprobe"],
      enabled: e.state === TracingPolicyState.TP_STATE_ENABLED,
      error: e.error,
      state: e.state,
      mode: protoMode(e.compiled.mode),
      domain: e.domain,
      stats: create(TracingPolicyStatsSchema, {
        actionCounters: create(TracingPolicyActionCountersSchema, {
          post: e.counters.post,
          signal: e.counters.signal,
          monitorSignal: e.counters.monitorSignal,
        }),
      }),
    });
  }
}
