import { create } from "@bufbuild/protobuf";
import {
  type GetEventsResponse,
  GetEventsResponseSchema,
  KprobeAction,
  type Process,
  ProcessExecSchema,
  ProcessExitSchema,
  type ProcessKprobe,
  ProcessKprobeSchema,
  ProcessSchema,
} from "@nsguard/sdk";
import type { RawNamespaceChange } from "@nsguard/sensor";
import type { BootClock } from "../clock.js";
import { execId } from "../process/exec-id.js";
import type { ProcessCache } from "../process/process-cache.js";
import type { CachedProcess } from "../process/process-record.js";
import type { ExecInput, ExitInput, NamespaceInums, SyscallInput, TaskInput } from "../process/raw-input.js";
import { type KprobeArgSpec, kprobeArgument } from "./kprobe-args.js";
import { messageTemplate } from "./message-template.js";
import { namespaceChanges } from "./namespace-changes.js";
import { toProcessMessage } from "./process-message.js";

const KPROBE = messageTemplate(ProcessKprobeSchema);
const ENVELOPE = messageTemplate(GetEventsResponseSchema);

import { decodeWaitStatus } from "./signal-name.js";

export interface BuildContext {
  nodeName: string;
  clock: BootClock;
  /** Emit `process.ns`/`parent.ns` (Tetragon's --enable-process-ns; off by default, as in the seed). */
  includeNamespaces?: boolean;
  /** Host namespace inums, for `Namespace.is_host`. */
  hostNamespaces?: NamespaceInums | undefined;
  /** Emit `cap` and `process_credentials` on processes (Tetragon's --enable-process-cred; off by default). */
  includeCredentials?: boolean;
}

/** What the event needs to know about the policy hook that fired (looked up by raw.hookId). */
export interface KprobeHookSpec {
  /** The resolved symbol, e.g. "__x64_sys_setns" (Tetragon keeps the arch prefix). */
  functionName: string;
  policyName: string;
  /** In the order of the policy's `args` list. */
  args: readonly KprobeArgSpec[];
  message?: string | undefined;
  tags?: readonly string[] | undefined;
  /** `return: true` hooks: how the return value is rendered in ProcessKprobe.return (`returnArg`). */
  returnArg?: { kind: KprobeArgSpec["kind"]; label?: string | undefined } | undefined;
}

/**
 * A syscall-hook record → `process_kprobe` event, shaped exactly like Tetragon's (the seed):
 * process with refcnt and the triggering tid, parent without refcnt, args in policy order,
 * `return_action` POST (Tetragon sets it even without a return probe), node name and time. For
 * `return: true` hooks the record is made at the return: `return` holds the return value.
 */
export function buildKprobeEvent(
  raw: SyscallInput,
  hook: KprobeHookSpec,
  cache: ProcessCache,
  ctx: BuildContext,
): GetEventsResponse {
  const key = { pid: raw.keyPid !== 0 ? raw.keyPid : raw.pid, ktime: raw.keyKtime };
  const record = cache.resolve(key);
  const process = record
    ? toProcessMessage(record, { refcnt: true, tid: raw.tid, ...nsOptions(ctx) })
    : unknownProcess(key, raw, ctx);
  const parent = record ? parentMessage(record, cache, ctx) : undefined;
  // Values are tetragon.KprobeAction numbers already (bpf/include/nsguard_events.h nsguard_action).
  const action = raw.action as KprobeAction;
  const last = lastKprobes.get(hook);
  // Strings are read from memory at the call: equal registers say nothing about them.
  const reusable = last && !hook.args.some((spec) => spec.stringSlot !== undefined);
  const args = reusable && sameRegisters(last.registers, raw, hook) ? last.args : undefined;
  const nsChange = raw.nsKinds !== 0 ? raw.nsChange() : undefined;
  const returnValue = raw.returnValue;
  // Records made at the return carry the action taken there (matchReturnActions), POST unless
  // it killed; Tetragon sets POST on every other event too.
  const returnAction = raw.returnAction ? (raw.returnAction as KprobeAction) : KprobeAction.POST;
  if (
    last &&
    args &&
    last.process === process &&
    last.parent === parent &&
    last.action === action &&
    last.returnValue === returnValue &&
    last.returnAction === returnAction &&
    sameNamespaceChange(last.nsChange, nsChange)
  ) {
    return envelope(last.event, raw.ktime, ctx);
  }
  const registers = hook.args.map((spec) => raw.arg(spec.index));
  const kprobe: ProcessKprobe = {
    ...KPROBE,
    process,
    parent,
    functionName: hook.functionName,
    args:
      args ??
      hook.args.map((spec, i) =>
        kprobeArgument(
          registers[i] as bigint,
          spec,
          spec.stringSlot === undefined ? undefined : raw.string(spec.stringSlot),
        ),
      ),
    action,
    ...returnArgument(returnValue, hook),
    returnAction,
    policyName: hook.policyName,
    message: hook.message ?? "",
    tags: [...(hook.tags ?? [])],
    namespaceChanges: namespaceChanges(nsChange, raw.fdKind),
  };
  const event = { case: "processKprobe" as const, value: kprobe };
  lastKprobes.set(hook, {
    process,
    parent,
    action,
    registers,
    args: kprobe.args,
    nsChange,
    returnValue,
    returnAction,
    event,
  });
  return envelope(event, raw.ktime, ctx);
}

/** ProcessKprobe.return: the return value as the hook's returnArg type, for records made at the return. */
function returnArgument(value: bigint | undefined, hook: KprobeHookSpec): Pick<ProcessKprobe, "return"> {
  if (value === undefined || hook.returnArg === undefined) return {};
  return {
    return: kprobeArgument(value, { index: 0, kind: hook.returnArg.kind, label: hook.returnArg.label }),
  };
}

/**
 * The last kprobe message built for a hook. A flood repeats one call: same process state, same
 * registers, same action — and then the same (immutable) message is shared by every event of
 * it, so the hub's encoder, which memoises ProcessKprobe bodies by object, encodes it once and
 * each event costs only its envelope (time). Keyed by the hook spec object the observer keeps
 * per hook.
 */
interface LastKprobe {
  process: Process;
  parent: Process | undefined;
  action: KprobeAction;
  /** The registers the args were rendered from, in hook.args order. */
  registers: bigint[];
  args: ProcessKprobe["args"];
  /** The kernel's namespace resolution the message was built from (namespace calls). */
  nsChange: RawNamespaceChange | undefined;
  /** The return value the message reports (return: true hooks), and the action at the return. */
  returnValue: bigint | undefined;
  returnAction: KprobeAction;
  event: Extract<GetEventsResponse["event"], { case: "processKprobe" }>;
}
const lastKprobes = new WeakMap<KprobeHookSpec, LastKprobe>();

function sameNamespaceChange(a: RawNamespaceChange | undefined, b: RawNamespaceChange | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  if (a.kinds !== b.kinds || a.created !== b.created || a.toHost !== b.toHost || a.fromHost !== b.fromHost) {
    return false;
  }
  for (let i = 0; i < a.target.length; i++) {
    if (a.target[i] !== b.target[i] || a.before[i] !== b.before[i]) return false;
  }
  return true;
}

function sameRegisters(registers: readonly bigint[], raw: SyscallInput, hook: KprobeHookSpec): boolean {
  for (let i = 0; i < hook.args.length; i++) {
    if (raw.arg((hook.args[i] as KprobeArgSpec).index) !== registers[i]) return false;
  }
  return true;
}

/** `process_exec` for an exec record. Call after `cache.upsertFromExec(raw)`. */
export function buildExecEvent(raw: ExecInput, cache: ProcessCache, ctx: BuildContext): GetEventsResponse {
  const record = cache.lookup(keyOf(raw.task));
  const exec = create(ProcessExecSchema, {
    process: record
      ? toProcessMessage(record, { refcnt: true, ...nsOptions(ctx) })
      : unknownProcess(keyOf(raw.task), raw.task, ctx),
    parent: record ? parentMessage(record, cache, ctx) : undefined,
  });
  return envelope({ case: "processExec", value: exec }, raw.ktime, ctx);
}

/**
 * `process_exit` for an exit record, with Tetragon's `status` (wait status >> 8) and `signal`
 * name. Call after `cache.markExit(raw)`, so `refcnt` is the post-exit count (0, omitted, unless
 * children still reference the process).
 */
export function buildExitEvent(raw: ExitInput, cache: ProcessCache, ctx: BuildContext): GetEventsResponse {
  const record = cache.lookup(keyOf(raw.task));
  const { status, signal } = decodeWaitStatus(raw.exitCode);
  const exit = create(ProcessExitSchema, {
    process: record
      ? toProcessMessage(record, { refcnt: true, ...nsOptions(ctx) })
      : unknownProcess(keyOf(raw.task), raw.task, ctx),
    parent: record ? parentMessage(record, cache, ctx) : undefined,
    signal,
    status,
    time: ctx.clock.toTimestamp(raw.ktime),
  });
  return envelope({ case: "processExit", value: exit }, raw.ktime, ctx);
}

function parentMessage(record: CachedProcess, cache: ProcessCache, ctx: BuildContext): Process | undefined {
  const parent = cache.get(record.parentExecId);
  return parent ? toProcessMessage(parent, nsOptions(ctx)) : undefined;
}

/**
 * The record names a process we know nothing about and /proc no longer has (it raced with us):
 * what the kernel told us, flagged "miss" like Tetragon's recovered processes.
 */
function unknownProcess(
  { pid, ktime }: { pid: number; ktime: bigint },
  task: Pick<TaskInput, "tid" | "uid" | "auid">,
  ctx: BuildContext,
): Process {
  return create(ProcessSchema, {
    execId: execId(ctx.nodeName, ktime, pid),
    pid,
    tid: task.tid,
    uid: task.uid,
    auid: task.auid,
    flags: "miss",
    startTime: ktime !== 0n ? ctx.clock.toTimestamp(ktime) : undefined,
  });
}

function keyOf(task: TaskInput): { pid: number; ktime: bigint } {
  return { pid: task.key.pid !== 0 ? task.key.pid : task.pid, ktime: task.key.ktime };
}

function nsOptions(ctx: BuildContext) {
  return {
    namespaces: ctx.includeNamespaces ?? false,
    hostNamespaces: ctx.hostNamespaces,
    credentials: ctx.includeCredentials ?? false,
  };
}

function envelope(event: GetEventsResponse["event"], ktime: bigint, ctx: BuildContext): GetEventsResponse {
  return { ...ENVELOPE, event, nodeName: ctx.nodeName, time: ctx.clock.toTimestamp(ktime) };
}
