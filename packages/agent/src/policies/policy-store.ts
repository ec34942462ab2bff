import { create } from "@bufbuild/protobuf";
import {
  type CompiledPolicy,
  compileTracingPolicy,
  type PolicyMode,
  parseTracingPolicy,
  type TracingPolicy,
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

/** Policies from --tracing-policy files and --tracing-policy-dir (Tetragon's "static" domain). */
export const STATIC_POLICY_DOMAIN = "static";

interface Entry {
  id: bigint;
  key: string;
  domain: string;
  name: string;
  namespace: string;
  yaml: string;
  source: string | undefined;
  /** Undefined when the policy did not compile (state TP_STATE_LOAD_ERROR). */
  compiled: CompiledPolicy | undefined;
  /**
   * The key the loader holds this version under while enabled: `<key>#<n>`, new for every load,
   * so a new version can be attached before the old one is detached (see install).
   */
  loadedAs: string | undefined;
  state: TracingPolicyState;
  error: string;
  counters: { post: bigint; signal: bigint; monitorSignal: bigint };
}

function policyKey(domain: string, namespace: string, name: string): string {
  return `${domain}/${namespace}/${name}`;
}

function protoMode(mode: PolicyMode | undefined): TracingPolicyMode {
  if (mode === undefined) return TracingPolicyMode.TP_MODE_UNKNOWN;
  return mode === "monitor" ? TracingPolicyMode.TP_MODE_MONITOR : TracingPolicyMode.TP_MODE_ENFORCE;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * The agent's tracing policies: parse → compile → load into the sensor, with Tetragon's
 * collection semantics (key = name + namespace + domain; a duplicate is refused unless the
 * existing entry failed to load).
 *
 * Failures follow Tetragon's split between `FromYAML` and the sensor manager: a policy that does
 * not parse (bad YAML, or not a valid TracingPolicy) is refused and changes nothing; one that
 * parses but cannot be compiled or attached (nsguard or this kernel cannot honour it) is refused
 * too, and stays listed in TP_STATE_LOAD_ERROR with its error, until deleted or added again.
 * Nothing loaded before is ever touched by a failed add.
 */
export class AgentPolicyStore implements PolicyStore {
  private readonly entries = new Map<string, Entry>();
  /** loadedAs → entry, for the kernel's action counters. */
  private readonly byLoadKey = new Map<string, Entry>();
  private nextId = 1n;
  private nextLoad = 1;

  constructor(private readonly loader: PolicyLoader) {}

  /** AddTracingPolicy and --tracing-policy: a new policy; throws what refused it. */
  async add(yaml: string, domain: string, source?: string): Promise<void> {
    const { error } = await this.apply(yaml, domain, source);
    if (error !== undefined) throw error;
  }

  /**
   * Loads the policy in `yaml`. With `previousKey` it is the new version of that entry (a
   * changed policy file), replaced atomically: the new version is parsed, compiled and attached
   * before the previous one is detached, so no call goes unseen in between (for that moment both
   * versions report). If the new version fails, the previous one stays loaded and its `error`
   * says why the new one is not there.
   *
   * Never throws for the policy's own faults: returns them as `error`, with `key`, the entry the
   * source now owns (the new one, a load-error entry, the previous one kept, or none).
   */
  async apply(
    yaml: string,
    domain: string,
    source: string | undefined,
    previousKey?: string,
  ): Promise<{ key: string | undefined; error?: unknown }> {
    const previous = previousKey === undefined ? undefined : this.entries.get(previousKey);
    let policy: TracingPolicy;
    try {
      policy = parseTracingPolicy(yaml, source);
    } catch (error) {
      if (previous) previous.error = messageOf(error);
      return { key: previous?.key, error };
    }
    return this.install(policy, yaml, domain, source, previous);
  }

  private async install(
    policy: TracingPolicy,
    yaml: string,
    domain: string,
    source: string | undefined,
    previous: Entry | undefined,
  ): Promise<{ key: string | undefined; error?: unknown }> {
    const namespace = policy.kind === "TracingPolicyNamespaced" ? (policy.metadata.namespace ?? "") : "";
    const key = policyKey(domain, namespace, policy.metadata.name);
    const existing = this.entries.get(key);
    if (existing && existing !== previous && existing.state !== TracingPolicyState.TP_STATE_LOAD_ERROR) {
      const error = new PolicyExistsError(
        `failed to add tracing policy ${policy.metadata.name}: a policy with the key ${key} already exists`,
      );
      if (previous) previous.error = error.message;
      return { key: previous?.key, error };
    }

    const entry: Entry = {
      id: existing?.id ?? previous?.id ?? this.nextId++,
      key,
      domain,
      name: policy.metadata.name,
      namespace,
      yaml,
      source,
      compiled: undefined,
      loadedAs: undefined,
      state: TracingPolicyState.TP_STATE_LOAD_ERROR,
      error: "",
      counters: { post: 0n, signal: 0n, monitorSignal: 0n },
    };
    try {
      entry.compiled = compileTracingPolicy(policy);
      await this.load(entry, entry.compiled);
    } catch (error) {
      if (previous && previous.state !== TracingPolicyState.TP_STATE_LOAD_ERROR) {
        // The working version stays.
        previous.error = messageOf(error);
        return { key: previous.key, error };
      }
      entry.error = messageOf(error);
      if (previous) this.entries.delete(previous.key);
      this.entries.set(key, entry);
      return { key, error };
    }

    // The new version is attached: now the previous one (or a failed entry at this key) goes.
    for (const old of new Set([previous, existing])) {
      if (old === undefined) continue;
      await this.unload(old);
      this.entries.delete(old.key);
    }
    this.entries.set(key, entry);
    return { key };
  }

  async delete(name: string, namespace: string, domain: string): Promise<void> {
    await this.remove(this.require(name, namespace, domain).key);
  }

  /** Unloads and forgets the entry at `key` (a removed policy file); no entry: nothing to do. */
  async remove(key: string): Promise<void> {
    const entry = this.entries.get(key);
    if (!entry) return;
    await this.unload(entry);
    this.entries.delete(entry.key);
  }

  /** Whether the entry at `key` has a version attached now. */
  isLoaded(key: string): boolean {
    return this.entries.get(key)?.loadedAs !== undefined;
  }

  list(domain?: string): TracingPolicyStatus[] {
    return [...this.entries.values()]
      .filter((e) => domain === undefined || domain === "" || e.domain === domain)
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .map((e) => this.status(e));
  }

  domains(): string[] {
    return [...new Set([...this.entries.values()].map((e) => e.domain))].sort();
  }

  async configure(options: ConfigureTracingPolicyOptions): Promise<void> {
    const entry = this.require(options.name, options.namespace, options.domain);
    const current = entry.compiled;
    if (current === undefined) {
      throw new Error(
        `tracing policy ${entry.name} did not compile (${entry.error}); fix it and add it again`,
      );
    }
    const enabled = entry.state === TracingPolicyState.TP_STATE_ENABLED;
    const wantMode =
      options.mode === undefined || options.mode === TracingPolicyMode.TP_MODE_UNKNOWN
        ? current.mode
        : options.mode === TracingPolicyMode.TP_MODE_MONITOR
          ? "monitor"
          : "enforce";
    const wantEnabled = options.enable ?? enabled;
    const recompiled =
      wantMode === current.mode
        ? current
        : compileTracingPolicy(parseTracingPolicy(entry.yaml, entry.source), { mode: wantMode });
    if (!wantEnabled) {
      await this.unload(entry);
      entry.state = enabled ? TracingPolicyState.TP_STATE_DISABLED : entry.state;
    } else if (!enabled || recompiled !== current) {
      // As for a new version: attach the new mode before detaching the old, so nothing goes unseen.
      const old = { ...entry };
      await this.load(entry, recompiled);
      await this.unload(old);
    }
    entry.compiled = recompiled;
  }

  /** Counts what the kernel did for a policy, for ListTracingPolicies' NPOST / NENFORCE. */
  recordAction(loadedAs: string, action: "post" | "sigkill" | "monitor-sigkill"): void {
    const entry = this.byLoadKey.get(loadedAs);
    if (!entry) return;
    if (action === "post") entry.counters.post++;
    else if (action === "sigkill") entry.counters.signal++;
    else entry.counters.monitorSignal++;
  }

  private async load(entry: Entry, compiled: CompiledPolicy): Promise<void> {
    const loadedAs = `${entry.key}#${this.nextLoad++}`;
    await this.loader.loadPolicy(loadedAs, compiled);
    entry.loadedAs = loadedAs;
    entry.state = TracingPolicyState.TP_STATE_ENABLED;
    entry.error = "";
    this.byLoadKey.set(loadedAs, entry);
  }

  private async unload(entry: Entry): Promise<void> {
    const loadedAs = entry.loadedAs;
    if (loadedAs === undefined) return;
    await this.loader.unloadPolicy(loadedAs);
    entry.loadedAs = undefined;
    // Like Tetragon's per-policy BPF counters, an unloaded version's counts end with it.
    this.byLoadKey.delete(loadedAs);
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
      name: e.name,
      namespace: e.namespace,
      sensors: e.compiled === undefined ? [] : ["generic_kprobe"],
      enabled: e.state === TracingPolicyState.TP_STATE_ENABLED,
      error: e.error,
      state: e.state,
      mode: protoMode(e.compiled?.mode),
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
