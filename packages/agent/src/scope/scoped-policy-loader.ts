import type { CompiledPolicy } from "@nsguard/policy";
import type { PolicyLoader } from "../policies/policy-store.js";
import type { ScopeMaintainer } from "./scope-maintainer.js";

/** The sensor's side of a policy load, with the workload scope the kernel checks. */
export interface ScopedSensor {
  loadPolicy(key: string, policy: CompiledPolicy, scopeId?: number): Promise<void>;
  unloadPolicy(key: string): Promise<void>;
}

/**
 * Loads policies into the sensor with their workload scope: a scoped policy's scope is filled in
 * the kernel map before its hooks are attached (so the first call is already judged by it) and
 * emptied after they are detached.
 */
export class ScopedPolicyLoader implements PolicyLoader {
  readonly #scopeIds = new Map<string, number>();

  constructor(
    private readonly sensor: ScopedSensor,
    private readonly scopes: ScopeMaintainer,
  ) {}

  async loadPolicy(key: string, policy: CompiledPolicy): Promise<void> {
    const scopeId = policy.scope ? this.scopes.addScope(policy.scope) : undefined;
    try {
      await this.sensor.loadPolicy(key, policy, scopeId);
    } catch (err) {
      if (scopeId !== undefined) this.scopes.removeScope(scopeId);
      throw err;
    }
    if (scopeId !== undefined) this.#scopeIds.set(key, scopeId);
  }

  async unloadPolicy(key: string): Promise<void> {
    await this.sensor.unloadPolicy(key);
    const scopeId = this.#scopeIds.get(key);
    if (scopeId === undefined) return;
    this.#scopeIds.delete(key);
    this.scopes.removeScope(scopeId);
  }
}
