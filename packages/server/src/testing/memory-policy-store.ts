import { create } from "@bufbuild/protobuf";
import {
  TracingPolicyMode,
  TracingPolicyState,
  type TracingPolicyStatus,
  TracingPolicyStatusSchema,
} from "@nsguard/sdk";
import { PolicyNotFoundError } from "../errors.js";
import type { ConfigureTracingPolicyOptions, PolicyStore } from "../interfaces.js";

/**
 * An in-memory PolicyStore: the real one loads BPF programs, which these tests cannot. It
 * records every call so tests can check what the server passed (defaults applied), and
 * `failNext` makes the next call throw a given error, to check the error mapping end to end.
 */
export class MemoryPolicyStore implements PolicyStore {
  readonly calls: unknown[][] = [];
  readonly policies = new Map<string, TracingPolicyStatus>();
  #failNext: unknown;

  failNext(error: unknown): void {
    this.#failNext = error;
  }

  add(yaml: string, domain: string): void {
    this.#record("add", yaml, domain);
    const name = /name:\s*"?([^"\s]+)/.exec(yaml)?.[1] ?? "unnamed";
    this.policies.set(
      `${domain}/${name}`,
      create(TracingPolicyStatusSchema, {
        id: BigInt(this.policies.size + 1),
        name,
        domain,
        state: TracingPolicyState.TP_STATE_ENABLED,
        mode: TracingPolicyMode.TP_MODE_ENFORCE,
      }),
    );
  }

  delete(name: string, namespace: string, domain: string): void {
    this.#record("delete", name, namespace, domain);
    if (!this.policies.delete(`${domain}/${name}`)) {
      throw new PolicyNotFoundError(`tracing policy ${name} not found`);
    }
  }

  list(domain?: string): TracingPolicyStatus[] {
    this.#record("list", domain);
    return [...this.policies.values()].filter((p) => domain === undefined || p.domain === domain);
  }

  configure(options: ConfigureTracingPolicyOptions): void {
    this.#record("configure", options);
  }

  #record(...call: unknown[]): void {
    this.calls.push(call);
    const failure = this.#failNext;
    if (failure !== undefined) {
      this.#failNext = undefined;
      throw failure;
    }
  }
}
