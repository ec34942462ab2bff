import {
  encodeStruct,
  isKernelContractError,
  NSGUARD_SCOPE_ALL_CONTAINERS,
  type StructName,
  type StructValue,
} from "@nsguard/kernel-contract";
import {
  BpfObject,
  type EventStream,
  isBpfError,
  type RecordBatch,
  type ThrottleSource,
} from "@nsguard/native";
import { type CompiledHook, type CompiledPolicy, IA32_SYSCALLS, X64_SYSCALLS } from "@nsguard/policy";
import { bpfObjectPath, defaultBpfDir } from "./bpf-objects.js";
import {
  ensureKernelMounts,
  hasSyscallTracepoint,
  type KernelFeatures,
  probeKernelFeatures,
} from "./kernel-features.js";
import {
  hookValue,
  type KernelProcessSeed,
  procValue,
  type SelectorFilterIds,
  syscallHooksValue,
} from "./kernel-tables.js";
import { SensorError } from "./sensor-error.js";
import { StringFilters } from "./string-filters.js";

/** Ring-buffer poll period while busy (SensorOptions.pollMs). */
const DEFAULT_POLL_MS = 5;
/** Program names in bpf/process.bpf.c and bpf/syscalls.bpf.c. */
const LIFECYCLE_PROGRAMS = ["nsguard_exec", "nsguard_fork", "nsguard_exit"] as const;
/** The syscall dispatcher (tp_btf/sys_enter): one program for every hook and both ABIs. */
const DISPATCH_PROGRAM = "nsguard_dispatch";
/** The return probe (tp_btf/sys_exit): posts the calls of `return: true` hooks at their return. */
const RETURN_PROGRAM = "nsguard_return";
/** Maps the sensor writes (bpf/syscalls.bpf.c, bpf/lib/maps.bpf.h), each keyed by a u32. */
const HOOKS_MAP = "nsguard_hooks";
const SYSCALL_HOOKS_MAP = "nsguard_syscall_hooks";
const PROCS_MAP = "nsguard_procs";
/** Workload scopes (bpf/lib/scope.bpf.h): struct nsguard_scope_key -> u8. */
const SCOPE_MAP = "nsguard_policy_cgroups";

export interface SensorOptions {
  /**
   * Receives ring-buffer records in batches, on the JS thread, read lazily (RecordBatch). Call
   * batch.release() when done with it: the reader hands over at most two unreleased batches and
   * leaves further records in the kernel ring meanwhile.
   */
  onEvents: (batch: RecordBatch) => void;
  /** Directory holding process.bpf.o and syscalls.bpf.o; defaults to the built bpf/.output. */
  bpfDir?: string;
  /**
   * Ring-buffer poll period while busy: the bound on delivery latency when the kernel skips
   * wake-ups. 5 ms: half of it is the mean added latency (bench: p99 at 5k events/s goes from
   * ~20 to ~15 ms against 10 ms), and an idle reader sleeps until the kernel wakes it, so a
   * short period costs nothing while idle.
   */
  pollMs?: number;
}

/** What the event builder needs to know about the hook that produced a syscall record. */
export interface HookInfo {
  hookId: number;
  policyKey: string;
  policyName: string;
  hook: CompiledHook;
  /** The kernel symbol of the syscall's 32-bit entry (`__ia32_sys_setns`), when that is covered. */
  compatFunctionName?: string;
}

interface LoadedHook {
  hookId: number;
  /** String filter ids (StringFilters) the hook's selectors use. */
  stringFilters?: number[];
  /** Native syscall number (key of nsguard_syscall_hooks). */
  nr: number;
  /** ia32 number of the syscall when its 32-bit entry is covered too. */
  compatNr?: number;
}

/** One entry of nsguard_syscall_hooks: hook ids per ABI for one syscall number. */
interface SyscallEntry {
  native: number[];
  compat: number[];
}

/**
 * The kernel side of nsguard: the base sensor (process lifecycle programs, always on) plus one
 * set of hook attachments per loaded policy. Policy loads and unloads are serialised so the hook
 * table and links never interleave; a failed load rolls back what it attached.
 */
export class Sensor {
  readonly features: KernelFeatures;
  private readonly hooks = new Map<number, HookInfo>();
  private readonly policies = new Map<string, LoadedHook[]>();
  private nextHookId = 1;
  /** Syscall number -> hook ids per ABI, as written to map nsguard_syscall_hooks. */
  private readonly syscallEntries = new Map<number, SyscallEntry>();
  /**
   * The dispatcher's link: attached only while some hook exists, because a sys_enter program
   * runs on every syscall of the node (~+60 ns each, whatever it does).
   */
  private dispatchLink: number | undefined;
  /**
   * The return probe's link, attached only while some loaded hook has `return: true`: a sys_exit
   * program costs every syscall of the node as much as the dispatcher does.
   */
  private returnLink: number | undefined;
  /** Loaded hooks with `return: true`. */
  private readonly returnHooks = new Set<number>();
  private queue: Promise<unknown> = Promise.resolve();
  private stopped = false;
  /** Values of every loaded string filter, in the maps both objects share. */
  private readonly stringFilters: StringFilters;

  private constructor(
    private readonly lifecycle: BpfObject,
    private readonly syscalls: BpfObject,
    private readonly stream: EventStream,
    features: KernelFeatures,
  ) {
    this.features = features;
    this.stringFilters = new StringFilters(lifecycle);
  }

  /** Loads and attaches the base sensor and starts reading the ring buffer. Needs root. */
  static start(options: SensorOptions): Sensor {
    ensureKernelMounts();
    const features = probeKernelFeatures();
    if (!features.btf) {
      throw new SensorError(
        "kernel has no BTF (/sys/kernel/btf/vmlinux): nsguard's CO-RE programs need CONFIG_DEBUG_INFO_BTF",
        "unsupported",
      );
    }
    const dir = options.bpfDir ?? defaultBpfDir();
    const lifecycle = openAndLoad(bpfObjectPath(dir, "process"));
    let syscalls: BpfObject | undefined;
    try {
      for (const program of LIFECYCLE_PROGRAMS) wrap("attach", () => lifecycle.attach(program));
      // Shares the ring buffer, process table, counters and throttle state with the lifecycle object.
      const opened = openAndLoad(bpfObjectPath(dir, "syscalls"), lifecycle);
      syscalls = opened;
      const stream = wrap("load", () =>
        lifecycle.openEventStream(options.onEvents, { pollMs: options.pollMs ?? DEFAULT_POLL_MS }),
      );
      return new Sensor(lifecycle, opened, stream, features);
    } catch (err) {
      syscalls?.close();
      lifecycle.close();
      throw err;
    }
  }

  /**
   * Attaches every hook of a compiled policy; on failure nothing stays attached. `scopeId`: the
   * policy's workload scope in map nsguard_policy_cgroups (setScopeCgroup), which the kernel
   * checks before the selectors; absent: every workload.
   */
  loadPolicy(policyKey: string, policy: CompiledPolicy, scopeId?: number): Promise<void> {
    return this.serialise(() => {
      if (this.policies.has(policyKey)) {
        throw new SensorError(`policy ${policyKey} is already loaded`, "exists");
      }
      const loaded: LoadedHook[] = [];
      try {
        for (const hook of policy.hooks) loaded.push(this.attachHook(policyKey, policy.name, hook, scopeId));
      } catch (err) {
        for (const hook of loaded) this.detachHook(hook);
        // Name the policy entry that asked for the hook, as the policy's own errors do.
        const hook = policy.hooks[loaded.length];
        if (err instanceof SensorError && hook !== undefined) {
          throw new SensorError(`${hook.specPath}: ${err.message}`, err.code, { cause: err });
        }
        throw err;
      }
      this.policies.set(policyKey, loaded);
    });
  }

  unloadPolicy(policyKey: string): Promise<void> {
    return this.serialise(() => {
      const loaded = this.policies.get(policyKey);
      if (!loaded) throw new SensorError(`policy ${policyKey} is not loaded`, "not-found");
      for (const hook of loaded) this.detachHook(hook);
      this.policies.delete(policyKey);
    });
  }

  hookInfo(hookId: number): HookInfo | undefined {
    return this.hooks.get(hookId);
  }

  /**
   * Adds (`member`) or removes a container cgroup (nsguard_task.cgroup_id) of workload scope
   * `scopeId` in map nsguard_policy_cgroups; see struct nsguard_scope_key. True when it changed.
   */
  setScopeCgroup(scopeId: number, cgroupId: bigint, member: boolean): boolean {
    if (scopeId === 0 || scopeId > NSGUARD_SCOPE_ALL_CONTAINERS) {
      throw new SensorError(
        `scope id ${scopeId} is not a valid scope (1 to ${NSGUARD_SCOPE_ALL_CONTAINERS})`,
        "unsupported",
      );
    }
    const key = encode("nsguard_scope_key", { scope_id: scopeId, cgroup_id: cgroupId });
    return wrap("attach", () => {
      if (!member) return this.syscalls.deleteMapElem(SCOPE_MAP, key);
      this.syscalls.updateMapElem(SCOPE_MAP, key, Uint8Array.of(1));
      return true;
    });
  }

  /** Tells the kernel's process table about processes that predate the sensor (procfs scan). */
  seedProcesses(processes: KernelProcessSeed[]): void {
    // All are encoded (and so checked) before the first is written.
    const entries = processes.map((p) => [u32Key(p.pid), encode("nsguard_proc", procValue(p))] as const);
    // The exec and fork programs run while /proc is scanned: an entry they wrote since is the
    // kernel's own (exec-time binary, followChildren bits, ktime) and more exact than /proc's.
    for (const [key, value] of entries) this.lifecycle.insertMapElem(PROCS_MAP, key, value);
  }

  /** Kernel-side counters (events, ring-buffer losses, kills …) and reader statistics. */
  counters() {
    return { kernel: this.lifecycle.readCounters(), reader: this.stream.stats() };
  }

  /** The sources flood resistance accounted under pressure (kernel map nsguard_sources). */
  sources(): ThrottleSource[] {
    return this.lifecycle.readSources();
  }

  /** Stops reading and detaches everything. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.queue.catch(() => undefined);
    this.stream.stop();
    for (const loaded of this.policies.values()) for (const hook of loaded) this.detachHook(hook);
    this.policies.clear();
    this.syscalls.close();
    this.lifecycle.close();
  }

  private attachHook(
    policyKey: string,
    policyName: string,
    hook: CompiledHook,
    scopeId?: number,
  ): LoadedHook {
    if (hook.attach.kind !== "syscall-tracepoint") {
      throw new SensorError(
        this.features.kprobes
          ? `${hook.functionName}: kprobes on kernel functions are not supported by nsguard yet`
          : `${hook.functionName}: this kernel has no kprobes (CONFIG_KPROBE_EVENTS); only syscall hooks can be attached here`,
        "unsupported",
      );
    }
    const syscall = hook.syscall ?? "";
    const nr = nativeSyscallNumber(syscall);
    if (nr === undefined) {
      throw new SensorError(
        `${hook.functionName}: no ${process.arch} syscall named ${syscall}`,
        "unsupported",
      );
    }
    // The number table is the UAPI header's; a syscall this kernel was built without has no
    // tracepoint either (checked when tracefs is there to tell).
    if (this.features.tracefs && !hasSyscallTracepoint(syscall)) {
      throw new SensorError(`${hook.functionName}: this kernel has no syscall ${syscall}`, "unsupported");
    }
    // The 32-bit entry too (x86_64 only): without it a process could escape unseen by switching ABI.
    const compatNr =
      process.arch === "x64" && Object.hasOwn(IA32_SYSCALLS, syscall) ? IA32_SYSCALLS[syscall] : undefined;
    const hookId = this.nextHookId++;
    const loaded: LoadedHook = { hookId, nr, compatNr };
    // The table goes in before the dispatcher sees the number, so the first call already has
    // its selectors.
    const filterIds: number[] = [];
    loaded.stringFilters = filterIds;
    try {
      const ids = wrap("attach", () => this.addStringFilters(hook, filterIds));
      const table = encode("nsguard_hook", hookValue(hook, ids, scopeId ?? 0));
      wrap("attach", () => this.syscalls.updateMapElem(HOOKS_MAP, u32Key(hookId), table));
    } catch (err) {
      for (const id of filterIds) this.stringFilters.remove(id);
      throw err;
    }
    try {
      this.editEntry(nr, (e) => e.native.push(hookId));
      if (compatNr !== undefined) this.editEntry(compatNr, (e) => e.compat.push(hookId));
      this.dispatchLink ??= wrap("attach", () => this.syscalls.attach(DISPATCH_PROGRAM));
      if (hook.table.atReturn) {
        this.returnHooks.add(hookId);
        this.returnLink ??= wrap("attach", () => this.syscalls.attach(RETURN_PROGRAM));
      }
    } catch (err) {
      this.removeFromEntries(loaded);
      this.syscalls.deleteMapElem(HOOKS_MAP, u32Key(hookId));
      for (const id of filterIds) this.stringFilters.remove(id);
      throw err;
    }
    const compatFunctionName = compatNr === undefined ? undefined : `__ia32_sys_${syscall}`;
    this.hooks.set(hookId, { hookId, policyKey, policyName, hook, compatFunctionName });
    return loaded;
  }

  /** Edits one entry of nsguard_syscall_hooks and writes it; on a refused write nothing changes. */
  private editEntry(nr: number, edit: (entry: SyscallEntry) => void): void {
    const old = this.syscallEntries.get(nr) ?? { native: [], compat: [] };
    const entry = { native: [...old.native], compat: [...old.compat] };
    edit(entry);
    // More hooks on one syscall than the kernel table holds (NSGUARD_MAX_SYSCALL_HOOKS) is refused here.
    const value = encode("nsguard_syscall_hooks", syscallHooksValue(entry));
    wrap("attach", () => this.syscalls.updateMapElem(SYSCALL_HOOKS_MAP, u32Key(nr), value));
    if (entry.native.length || entry.compat.length) this.syscallEntries.set(nr, entry);
    else this.syscallEntries.delete(nr);
  }

  private removeFromEntries({ hookId, nr, compatNr }: LoadedHook): void {
    const drop = (ids: number[]) => ids.filter((id) => id !== hookId);
    if (this.syscallEntries.get(nr)?.native.includes(hookId)) {
      this.editEntry(nr, (e) => {
        e.native = drop(e.native);
      });
    }
    if (compatNr !== undefined && this.syscallEntries.get(compatNr)?.compat.includes(hookId)) {
      this.editEntry(compatNr, (e) => {
        e.compat = drop(e.compat);
      });
    }
    this.returnHooks.delete(hookId);
    if (this.returnHooks.size === 0 && this.returnLink !== undefined) {
      this.syscalls.detach(this.returnLink);
      this.returnLink = undefined;
    }
    if (this.syscallEntries.size === 0 && this.dispatchLink !== undefined) {
      this.syscalls.detach(this.dispatchLink);
      this.dispatchLink = undefined;
    }
  }

  /** The hook's string filters into the kernel's string maps; their ids per selector. */
  private addStringFilters(hook: CompiledHook, filterIds: number[]): SelectorFilterIds[] {
    const add = (filter: Parameters<StringFilters["add"]>[0]): number => {
      const id = this.stringFilters.add(filter);
      filterIds.push(id);
      return id;
    };
    return hook.table.selectors.map((selector) => {
      const args = (selector.args ?? []).map((arg) => (arg.type === "string" ? add(arg) : 0));
      if (selector.binary === undefined) return { args, binary: 0, followBit: 0 };
      const binary = add(selector.binary);
      const followBit = selector.binary.followChildren ? this.stringFilters.addFollow(binary) : 0;
      return { args, binary, followBit };
    });
  }

  private detachHook(loaded: LoadedHook): void {
    this.removeFromEntries(loaded);
    this.syscalls.deleteMapElem(HOOKS_MAP, u32Key(loaded.hookId));
    for (const id of loaded.stringFilters ?? []) this.stringFilters.remove(id);
    // Records already in the ring buffer may still name this hook: keep its info until the
    // reader has surely drained them (two poll periods).
    setTimeout(() => this.hooks.delete(loaded.hookId), 1000).unref();
  }

  private serialise<T>(fn: () => T): Promise<T> {
    const run = this.queue.then(() => {
      if (this.stopped) throw new SensorError("sensor is stopped", "unsupported");
      return fn();
    });
    this.queue = run.catch(() => undefined);
    return run;
  }
}

/** The native syscall number of `syscall` on this architecture (x86_64 only for now). */
function nativeSyscallNumber(syscall: string): number | undefined {
  if (process.arch !== "x64" || !Object.hasOwn(X64_SYSCALLS, syscall)) return undefined;
  return X64_SYSCALLS[syscall];
}

/**
 * Opens and loads a BPF object. The verifier gives up with EAGAIN when a signal is pending
 * (profilers' SIGPROF, for one), and libbpf cannot reload a failed object, so retry on a fresh one.
 */
function openAndLoad(path: string, shareMapsWith?: BpfObject): BpfObject {
  for (let attempt = 1; ; attempt++) {
    const object = wrap("load", () => BpfObject.open(path, shareMapsWith ? { shareMapsWith } : {}));
    try {
      object.load();
      return object;
    } catch (err) {
      object.close();
      if (!(isBpfError(err) && err.code === "EAGAIN" && attempt < 10))
        return wrap("load", () => {
          throw err;
        });
    }
  }
}

/** A u32 map key (hook id, syscall number, tgid) in the host's byte order, as the maps hold it. */
function u32Key(n: number): Uint8Array {
  return new Uint8Array(new Uint32Array([n]).buffer);
}

/** Encodes a map value; a value the kernel's struct cannot hold is a SensorError "unsupported". */
function encode<N extends StructName>(name: N, value: StructValue<N>): Uint8Array {
  try {
    return encodeStruct(name, value);
  } catch (err) {
    if (isKernelContractError(err)) {
      throw new SensorError(`the kernel table cannot hold this: ${err.message}`, "unsupported", {
        cause: err,
      });
    }
    throw err;
  }
}

/** Turns a BpfError into a one-line SensorError, keeping the original as cause. */
function wrap<T>(code: "load" | "attach", fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (isBpfError(err)) {
      throw new SensorError(`${err.op} failed: ${err.message}`, code, { cause: err });
    }
    throw err;
  }
}
