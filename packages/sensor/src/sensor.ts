import { BpfObject, type EventStream, isBpfError, type RawEvent, type SeedProcess } from "@nsguard/native";
import type { CompiledHook, CompiledPolicy } from "@nsguard/policy";
import { bpfObjectPath, defaultBpfDir } from "./bpf-objects.js";
import { IA32_SYSCALLS } from "./ia32-syscalls.js";
import {
  ensureKernelMounts,
  hasSyscallTracepoint,
  type KernelFeatures,
  probeKernelFeatures,
} from "./kernel-features.js";
import { SensorError } from "./sensor-error.js";

/** Program names in bpf/process.bpf.c and bpf/syscalls.bpf.c. */
const LIFECYCLE_PROGRAMS = ["nsguard_exec", "nsguard_fork", "nsguard_exit"] as const;
const SYSCALL_PROGRAM = "nsguard_sys_enter";
const COMPAT_PROGRAM = "nsguard_compat_enter";

export interface SensorOptions {
  /** Receives decoded ring-buffer records in batches, on the JS thread. */
  onEvents: (batch: RawEvent[]) => void;
  /** Directory holding process.bpf.o and syscalls.bpf.o; defaults to the built bpf/.output. */
  bpfDir?: string;
  /** Ring-buffer poll period: the bound on delivery latency when the kernel skips wake-ups. */
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

/** A process that predates the sensor, for the kernel's process table (struct nsguard_proc). */
export type KernelProcessSeed = SeedProcess;

interface LoadedHook {
  hookId: number;
  linkId: number;
  object: BpfObject;
  tracepoint: string;
  /** ia32 number of the syscall when its 32-bit entry is covered too. */
  compatNr?: number;
}

/**
 * The kernel side of nsguard: the base sensor (process lifecycle programs, always on) plus one
 * set of hook attachments per loaded policy. Policy loads and unloads are serialised so the hook
 * table and links never interleave; a failed load rolls back what it attached.
 */
export class Sensor {
  readonly features: KernelFeatures;
  private readonly hooks = new Map<number, HookInfo>();
  /**
   * Instances of the syscall object, each with the tracepoints it is attached to. The kernel
   * refuses a second attachment of one program to one tracepoint (EEXIST) whatever the cookie,
   * so two policies hooking the same syscall need two instances; every instance shares the
   * first one's maps (hook table, ring buffer, process table, counters).
   */
  private readonly syscallObjects: { object: BpfObject; tracepoints: Set<string> }[];
  private readonly policies = new Map<string, LoadedHook[]>();
  private nextHookId = 1;
  /** ia32 syscall number -> hook ids (map nsguard_compat_hooks), and the compat program's link. */
  private readonly compatHooks = new Map<number, number[]>();
  private compatLink: number | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private stopped = false;

  private constructor(
    private readonly lifecycle: BpfObject,
    private readonly syscalls: BpfObject,
    private readonly stream: EventStream,
    features: KernelFeatures,
    private readonly bpfDir: string,
  ) {
    this.features = features;
    this.syscallObjects = [{ object: syscalls, tracepoints: new Set() }];
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
    const lifecycle = wrap("load", () => BpfObject.open(bpfObjectPath(dir, "process")));
    let syscalls: BpfObject | undefined;
    try {
      wrap("load", () => lifecycle.load());
      for (const program of LIFECYCLE_PROGRAMS) wrap("attach", () => lifecycle.attach(program));
      // Shares the ring buffer, process table and counters with the lifecycle object.
      const opened = wrap("load", () =>
        BpfObject.open(bpfObjectPath(dir, "syscalls"), { shareMapsWith: lifecycle }),
      );
      syscalls = opened;
      wrap("load", () => opened.load());
      const stream = wrap("load", () =>
        lifecycle.openEventStream(options.onEvents, { pollMs: options.pollMs ?? 10 }),
      );
      return new Sensor(lifecycle, opened, stream, features, dir);
    } catch (err) {
      syscalls?.close();
      lifecycle.close();
      throw err;
    }
  }

  /** Attaches every hook of a compiled policy; on failure nothing stays attached. */
  loadPolicy(policyKey: string, policy: CompiledPolicy): Promise<void> {
    return this.serialise(() => {
      if (this.policies.has(policyKey)) {
        throw new SensorError(`policy ${policyKey} is already loaded`, "exists");
      }
      const loaded: LoadedHook[] = [];
      try {
        for (const hook of policy.hooks) loaded.push(this.attachHook(policyKey, policy.name, hook));
      } catch (err) {
        for (const hook of loaded) this.detachHook(hook);
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

  /** Tells the kernel's process table about processes that predate the sensor (procfs scan). */
  seedProcesses(processes: KernelProcessSeed[]): void {
    for (const p of processes) this.lifecycle.seedProcess(p);
  }

  /** Kernel-side counters (events, ring-buffer losses, kills …) and reader statistics. */
  counters() {
    return { kernel: this.lifecycle.readCounters(), reader: this.stream.stats() };
  }

  /** Stops reading and detaches everything. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.queue.catch(() => undefined);
    this.stream.stop();
    for (const loaded of this.policies.values()) for (const hook of loaded) this.detachHook(hook);
    this.policies.clear();
    for (const { object } of this.syscallObjects.slice(1)) object.close();
    this.syscalls.close();
    this.lifecycle.close();
  }

  private attachHook(policyKey: string, policyName: string, hook: CompiledHook): LoadedHook {
    if (hook.attach.kind !== "syscall-tracepoint") {
      throw new SensorError(
        this.features.kprobes
          ? `${hook.functionName}: kprobes on kernel functions are not supported by nsguard yet`
          : `${hook.functionName}: this kernel has no kprobes (CONFIG_KPROBE_EVENTS); only syscall hooks can be attached here`,
        "unsupported",
      );
    }
    const { syscall, enter } = { syscall: hook.syscall ?? "", enter: hook.attach.enter };
    if (!hasSyscallTracepoint(syscall)) {
      throw new SensorError(
        `${hook.functionName}: kernel has no tracepoint syscalls/${enter} (needs CONFIG_FTRACE_SYSCALLS and tracefs at /sys/kernel/tracing)`,
        "unsupported",
      );
    }
    const hookId = this.nextHookId++;
    const slot = this.freeSyscallObject(enter);
    // The table goes in before the link so the very first call already sees its selectors.
    wrap("attach", () => this.syscalls.setHook(hookId, hook.table));
    let linkId: number;
    try {
      linkId = wrap("attach", () => slot.object.attachTracepoint(SYSCALL_PROGRAM, "syscalls", enter, hookId));
    } catch (err) {
      this.syscalls.deleteHook(hookId);
      throw err;
    }
    slot.tracepoints.add(enter);
    let compatNr: number | undefined;
    try {
      compatNr = this.addCompatHook(syscall, hookId);
    } catch (err) {
      slot.object.detach(linkId);
      slot.tracepoints.delete(enter);
      this.syscalls.deleteHook(hookId);
      throw err;
    }
    const compatFunctionName = compatNr === undefined ? undefined : `__ia32_sys_${syscall}`;
    this.hooks.set(hookId, { hookId, policyKey, policyName, hook, compatFunctionName });
    return { hookId, linkId, object: slot.object, tracepoint: enter, compatNr };
  }

  /**
   * Covers the syscall's 32-bit entry too (x86_64 only): the syscall tracepoints never fire for
   * int 0x80 callers, so without this a process could escape unseen by switching ABI. The compat
   * program runs on every syscall, so it is attached only while some hook needs it.
   */
  private addCompatHook(syscall: string, hookId: number): number | undefined {
    const nr = process.arch === "x64" ? IA32_SYSCALLS[syscall] : undefined;
    if (nr === undefined) return undefined;
    const ids = [...(this.compatHooks.get(nr) ?? []), hookId];
    wrap("attach", () => this.syscalls.setCompatHooks(nr, ids));
    this.compatHooks.set(nr, ids);
    if (this.compatLink === undefined) {
      try {
        this.compatLink = wrap("attach", () => this.syscalls.attach(COMPAT_PROGRAM));
      } catch (err) {
        this.removeCompatHook(nr, hookId);
        throw err;
      }
    }
    return nr;
  }

  private removeCompatHook(nr: number, hookId: number): void {
    const ids = (this.compatHooks.get(nr) ?? []).filter((id) => id !== hookId);
    this.syscalls.setCompatHooks(nr, ids);
    if (ids.length) this.compatHooks.set(nr, ids);
    else this.compatHooks.delete(nr);
    if (this.compatHooks.size === 0 && this.compatLink !== undefined) {
      this.syscalls.detach(this.compatLink);
      this.compatLink = undefined;
    }
  }

  /** An instance of the syscall object not yet attached to `tracepoint` (opened on demand). */
  private freeSyscallObject(tracepoint: string) {
    const free = this.syscallObjects.find((slot) => !slot.tracepoints.has(tracepoint));
    if (free) return free;
    const object = openAndLoad(bpfObjectPath(this.bpfDir, "syscalls"), this.syscalls);
    const slot = { object, tracepoints: new Set<string>() };
    this.syscallObjects.push(slot);
    return slot;
  }

  private detachHook({ hookId, linkId, object, tracepoint, compatNr }: LoadedHook): void {
    object.detach(linkId);
    if (compatNr !== undefined) this.removeCompatHook(compatNr, hookId);
    for (const slot of this.syscallObjects) if (slot.object === object) slot.tracepoints.delete(tracepoint);
    this.syscalls.deleteHook(hookId);
    // Records already in the ring buffer may still name this hook: keep its info until the
    // reader has surely drained them (two poll periods).
    setTimeout(() => this.hooks.delete(hookId), 1000).unref();
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
