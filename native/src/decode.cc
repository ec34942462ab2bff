// SPDX-License-Identifier: Apache-2.0
#include "decode.h"

#include <cstddef>
#include <cstring>

#include "header.h"

// --- layout contract ---------------------------------------------------------------------------
// The numbers below are written out by hand from bpf/include/nsguard_events.h. BPF (clang -target
// bpf) and this C++ code compile the same header, but both must also agree with these values: if
// the header changes shape, this file stops compiling until someone re-checks the decoder
// (ts/record-batch.ts, which reads offsets from constants.layout below) and the TS types.
#define NSG_SIZE(T, n) static_assert(sizeof(struct T) == (n), "sizeof(struct " #T ") changed")
#define NSG_OFF(T, f, n) \
  static_assert(offsetof(struct T, f) == (n), "offsetof(struct " #T ", " #f ") changed")

NSG_SIZE(nsguard_process_key, 16);
NSG_OFF(nsguard_process_key, pid, 0);
NSG_OFF(nsguard_process_key, pad, 4);
NSG_OFF(nsguard_process_key, ktime, 8);

NSG_SIZE(nsguard_task, 112);
NSG_OFF(nsguard_task, key, 0);
NSG_OFF(nsguard_task, pid, 16);
NSG_OFF(nsguard_task, tid, 20);
NSG_OFF(nsguard_task, ppid, 24);
NSG_OFF(nsguard_task, nspid, 28);
NSG_OFF(nsguard_task, uid, 32);
NSG_OFF(nsguard_task, euid, 36);
NSG_OFF(nsguard_task, gid, 40);
NSG_OFF(nsguard_task, auid, 44);
NSG_OFF(nsguard_task, cgroup_id, 48);
NSG_OFF(nsguard_task, ns, 56);
NSG_OFF(nsguard_task, comm, 96);

NSG_SIZE(nsguard_header, 16);
NSG_OFF(nsguard_header, op, 0);
NSG_OFF(nsguard_header, size, 4);
NSG_OFF(nsguard_header, ktime, 8);

NSG_SIZE(nsguard_creds, 64);
NSG_OFF(nsguard_creds, uid, 0);
NSG_OFF(nsguard_creds, gid, 4);
NSG_OFF(nsguard_creds, euid, 8);
NSG_OFF(nsguard_creds, egid, 12);
NSG_OFF(nsguard_creds, suid, 16);
NSG_OFF(nsguard_creds, sgid, 20);
NSG_OFF(nsguard_creds, fsuid, 24);
NSG_OFF(nsguard_creds, fsgid, 28);
NSG_OFF(nsguard_creds, securebits, 32);
NSG_OFF(nsguard_creds, pad, 36);
NSG_OFF(nsguard_creds, cap_permitted, 40);
NSG_OFF(nsguard_creds, cap_effective, 48);
NSG_OFF(nsguard_creds, cap_inheritable, 56);

NSG_SIZE(nsguard_exec_event, 1888);
NSG_OFF(nsguard_exec_event, hdr, 0);
NSG_OFF(nsguard_exec_event, task, 16);
NSG_OFF(nsguard_exec_event, parent, 128);
NSG_OFF(nsguard_exec_event, flags, 144);
NSG_OFF(nsguard_exec_event, filename_len, 148);
NSG_OFF(nsguard_exec_event, args_len, 150);
NSG_OFF(nsguard_exec_event, cwd_len, 152);
NSG_OFF(nsguard_exec_event, cgroup_name_len, 154);
NSG_OFF(nsguard_exec_event, pad, 156);
NSG_OFF(nsguard_exec_event, creds, 160);
NSG_OFF(nsguard_exec_event, filename, 224);
NSG_OFF(nsguard_exec_event, args, 480);
NSG_OFF(nsguard_exec_event, cwd, 1504);
NSG_OFF(nsguard_exec_event, cgroup_name, 1760);

NSG_SIZE(nsguard_clone_event, 216);
NSG_OFF(nsguard_clone_event, hdr, 0);
NSG_OFF(nsguard_clone_event, task, 16);
NSG_OFF(nsguard_clone_event, parent, 128);
NSG_OFF(nsguard_clone_event, flags, 144);
NSG_OFF(nsguard_clone_event, pad, 148);
NSG_OFF(nsguard_clone_event, creds, 152);

NSG_SIZE(nsguard_exit_event, 136);
NSG_OFF(nsguard_exit_event, hdr, 0);
NSG_OFF(nsguard_exit_event, task, 16);
NSG_OFF(nsguard_exit_event, exit_code, 128);
NSG_OFF(nsguard_exit_event, pad, 132);

NSG_SIZE(nsguard_syscall_event, 264);
NSG_OFF(nsguard_syscall_event, hdr, 0);
NSG_OFF(nsguard_syscall_event, task, 16);
NSG_OFF(nsguard_syscall_event, hook_id, 128);
NSG_OFF(nsguard_syscall_event, syscall_nr, 132);
NSG_OFF(nsguard_syscall_event, action, 136);
NSG_OFF(nsguard_syscall_event, selector, 140);
NSG_OFF(nsguard_syscall_event, args, 144);
NSG_OFF(nsguard_syscall_event, fd_kind, 192);
NSG_OFF(nsguard_syscall_event, fd_ns_inum, 196);
NSG_OFF(nsguard_syscall_event, signal_err, 200);
NSG_OFF(nsguard_syscall_event, flags, 204);
NSG_OFF(nsguard_syscall_event, ns_kinds, 208);
NSG_OFF(nsguard_syscall_event, ns_created, 212);
NSG_OFF(nsguard_syscall_event, ns_to_host, 216);
NSG_OFF(nsguard_syscall_event, ns_from_host, 220);
NSG_OFF(nsguard_syscall_event, ns_target, 224);

NSG_SIZE(nsguard_reader_state, 8);
NSG_OFF(nsguard_reader_state, sleeping, 0);


// Map values (nsguard_proc, nsguard_hook and what it holds) are not pinned here: user space
// encodes them from the layouts generated from the header.

// Array lengths the decoder relies on.
static_assert(sizeof(((struct nsguard_task*)nullptr)->comm) == NSGUARD_COMM_LEN, "comm length");
static_assert(sizeof(((struct nsguard_task*)nullptr)->ns) == 4 * NSGUARD_NS_COUNT, "ns slots");
static_assert(NSGUARD_NS_COUNT == 10, "RawNamespaces in ts/raw-events.ts has 10 fields");
static_assert(NSGUARD_SYSCALL_ARGS == 6, "syscall args");
static_assert(NSGUARD_CNT_MAX >= NSGUARD_CNT_FILTERED + 1, "counter indices");

#undef NSG_SIZE
#undef NSG_OFF

namespace nsguard {

namespace {

size_t MinSizeForOp(uint32_t op) {
  switch (op) {
    case NSGUARD_OP_EXEC: return sizeof(struct nsguard_exec_event);
    case NSGUARD_OP_CLONE: return sizeof(struct nsguard_clone_event);
    case NSGUARD_OP_EXIT: return sizeof(struct nsguard_exit_event);
    case NSGUARD_OP_SYSCALL: return sizeof(struct nsguard_syscall_event);
    default: return 0;
  }
}

Napi::Value U32(Napi::Env env, uint32_t v) { return Napi::Number::New(env, v); }

}  // namespace

size_t ValidateRecord(const void* data, size_t size) {
  if (data == nullptr || size < sizeof(struct nsguard_header)) return 0;
  struct nsguard_header hdr;
  std::memcpy(&hdr, data, sizeof(hdr));
  size_t min = MinSizeForOp(hdr.op);
  if (min == 0) return 0;                       // unknown op (0 is reserved: zeroed record)
  if (hdr.size < min || hdr.size > size) return 0;  // short, or claims more than was submitted
  return hdr.size;
}

namespace {

// Byte offsets of every record field the JS decoder reads (ts/record-batch.ts), by C field name,
// straight from the header: JS never hard-codes an offset.
Napi::Object MakeLayout(Napi::Env env) {
#define NSG_FIELD(obj, T, f) obj.Set(#f, U32(env, offsetof(struct T, f)))
  Napi::Object layout = Napi::Object::New(env);

  Napi::Object hdr = Napi::Object::New(env);
  NSG_FIELD(hdr, nsguard_header, op);
  NSG_FIELD(hdr, nsguard_header, size);
  NSG_FIELD(hdr, nsguard_header, ktime);
  layout.Set("header", hdr);

  Napi::Object key = Napi::Object::New(env);
  NSG_FIELD(key, nsguard_process_key, pid);
  NSG_FIELD(key, nsguard_process_key, ktime);
  layout.Set("processKey", key);

  Napi::Object task = Napi::Object::New(env);
  NSG_FIELD(task, nsguard_task, key);
  NSG_FIELD(task, nsguard_task, pid);
  NSG_FIELD(task, nsguard_task, tid);
  NSG_FIELD(task, nsguard_task, ppid);
  NSG_FIELD(task, nsguard_task, nspid);
  NSG_FIELD(task, nsguard_task, uid);
  NSG_FIELD(task, nsguard_task, euid);
  NSG_FIELD(task, nsguard_task, gid);
  NSG_FIELD(task, nsguard_task, auid);
  NSG_FIELD(task, nsguard_task, cgroup_id);
  NSG_FIELD(task, nsguard_task, ns);
  NSG_FIELD(task, nsguard_task, comm);
  layout.Set("task", task);

  Napi::Object exec = Napi::Object::New(env);
  NSG_FIELD(exec, nsguard_exec_event, task);
  NSG_FIELD(exec, nsguard_exec_event, parent);
  NSG_FIELD(exec, nsguard_exec_event, flags);
  NSG_FIELD(exec, nsguard_exec_event, filename_len);
  NSG_FIELD(exec, nsguard_exec_event, args_len);
  NSG_FIELD(exec, nsguard_exec_event, cwd_len);
  NSG_FIELD(exec, nsguard_exec_event, cgroup_name_len);
  NSG_FIELD(exec, nsguard_exec_event, filename);
  NSG_FIELD(exec, nsguard_exec_event, args);
  NSG_FIELD(exec, nsguard_exec_event, cwd);
  NSG_FIELD(exec, nsguard_exec_event, cgroup_name);
  NSG_FIELD(exec, nsguard_exec_event, creds);
  layout.Set("exec", exec);

  Napi::Object clone = Napi::Object::New(env);
  NSG_FIELD(clone, nsguard_clone_event, task);
  NSG_FIELD(clone, nsguard_clone_event, parent);
  NSG_FIELD(clone, nsguard_clone_event, flags);
  NSG_FIELD(clone, nsguard_clone_event, creds);
  layout.Set("clone", clone);

  Napi::Object creds = Napi::Object::New(env);
  NSG_FIELD(creds, nsguard_creds, uid);
  NSG_FIELD(creds, nsguard_creds, gid);
  NSG_FIELD(creds, nsguard_creds, euid);
  NSG_FIELD(creds, nsguard_creds, egid);
  NSG_FIELD(creds, nsguard_creds, suid);
  NSG_FIELD(creds, nsguard_creds, sgid);
  NSG_FIELD(creds, nsguard_creds, fsuid);
  NSG_FIELD(creds, nsguard_creds, fsgid);
  NSG_FIELD(creds, nsguard_creds, securebits);
  NSG_FIELD(creds, nsguard_creds, cap_permitted);
  NSG_FIELD(creds, nsguard_creds, cap_effective);
  NSG_FIELD(creds, nsguard_creds, cap_inheritable);
  layout.Set("creds", creds);

  Napi::Object exit = Napi::Object::New(env);
  NSG_FIELD(exit, nsguard_exit_event, task);
  NSG_FIELD(exit, nsguard_exit_event, exit_code);
  layout.Set("exit", exit);

  Napi::Object sys = Napi::Object::New(env);
  NSG_FIELD(sys, nsguard_syscall_event, task);
  NSG_FIELD(sys, nsguard_syscall_event, hook_id);
  NSG_FIELD(sys, nsguard_syscall_event, syscall_nr);
  NSG_FIELD(sys, nsguard_syscall_event, action);
  NSG_FIELD(sys, nsguard_syscall_event, selector);
  NSG_FIELD(sys, nsguard_syscall_event, args);
  NSG_FIELD(sys, nsguard_syscall_event, fd_kind);
  NSG_FIELD(sys, nsguard_syscall_event, fd_ns_inum);
  NSG_FIELD(sys, nsguard_syscall_event, signal_err);
  NSG_FIELD(sys, nsguard_syscall_event, flags);
  NSG_FIELD(sys, nsguard_syscall_event, ns_kinds);
  NSG_FIELD(sys, nsguard_syscall_event, ns_created);
  NSG_FIELD(sys, nsguard_syscall_event, ns_to_host);
  NSG_FIELD(sys, nsguard_syscall_event, ns_from_host);
  NSG_FIELD(sys, nsguard_syscall_event, ns_target);
  layout.Set("syscall", sys);
#undef NSG_FIELD
  return layout;
}

}  // namespace

Napi::Object MakeConstants(Napi::Env env) {
  Napi::Object c = Napi::Object::New(env);
  c.Set("COMM_LEN", U32(env, NSGUARD_COMM_LEN));
  c.Set("CGROUP_NAME_LEN", U32(env, NSGUARD_CGROUP_NAME_LEN));
  c.Set("FILENAME_LEN", U32(env, NSGUARD_FILENAME_LEN));
  c.Set("CWD_LEN", U32(env, NSGUARD_CWD_LEN));
  c.Set("ARGS_LEN", U32(env, NSGUARD_ARGS_LEN));
  c.Set("SYSCALL_ARGS", U32(env, NSGUARD_SYSCALL_ARGS));
  c.Set("MAX_SELECTORS", U32(env, NSGUARD_MAX_SELECTORS));
  c.Set("MAX_PID_VALUES", U32(env, NSGUARD_MAX_PID_VALUES));
  c.Set("FOLLOW_DEPTH", U32(env, NSGUARD_FOLLOW_DEPTH));
  c.Set("CNT_MAX", U32(env, NSGUARD_CNT_MAX));

  Napi::Object ops = Napi::Object::New(env);
  ops.Set("exec", U32(env, NSGUARD_OP_EXEC));
  ops.Set("clone", U32(env, NSGUARD_OP_CLONE));
  ops.Set("exit", U32(env, NSGUARD_OP_EXIT));
  ops.Set("syscall", U32(env, NSGUARD_OP_SYSCALL));
  c.Set("ops", ops);

  Napi::Object sizes = Napi::Object::New(env);
  sizes.Set("header", U32(env, sizeof(struct nsguard_header)));
  sizes.Set("exec", U32(env, sizeof(struct nsguard_exec_event)));
  sizes.Set("clone", U32(env, sizeof(struct nsguard_clone_event)));
  sizes.Set("exit", U32(env, sizeof(struct nsguard_exit_event)));
  sizes.Set("syscall", U32(env, sizeof(struct nsguard_syscall_event)));
  sizes.Set("proc", U32(env, sizeof(struct nsguard_proc)));
  sizes.Set("hook", U32(env, sizeof(struct nsguard_hook)));
  c.Set("recordSizes", sizes);

  Napi::Object actions = Napi::Object::New(env);
  actions.Set("POST", U32(env, NSGUARD_ACTION_POST));
  actions.Set("SIGKILL", U32(env, NSGUARD_ACTION_SIGKILL));
  actions.Set("NOPOST", U32(env, NSGUARD_ACTION_NOPOST));
  actions.Set("SIGNAL", U32(env, NSGUARD_ACTION_SIGNAL));
  c.Set("actions", actions);

  Napi::Object flags = Napi::Object::New(env);
  flags.Set("EXECVE", U32(env, NSGUARD_FLAG_EXECVE));
  flags.Set("PROCFS", U32(env, NSGUARD_FLAG_PROCFS));
  flags.Set("TRUNC_ARGS", U32(env, NSGUARD_FLAG_TRUNC_ARGS));
  flags.Set("MISS", U32(env, NSGUARD_FLAG_MISS));
  flags.Set("ERROR_FILENAME", U32(env, NSGUARD_FLAG_ERROR_FILENAME));
  flags.Set("ERROR_ARGS", U32(env, NSGUARD_FLAG_ERROR_ARGS));
  flags.Set("NOCWD", U32(env, NSGUARD_FLAG_NOCWD));
  flags.Set("ROOTCWD", U32(env, NSGUARD_FLAG_ROOTCWD));
  flags.Set("ERROR_CWD", U32(env, NSGUARD_FLAG_ERROR_CWD));
  flags.Set("CLONE", U32(env, NSGUARD_FLAG_CLONE));
  flags.Set("IN_INIT_TREE", U32(env, NSGUARD_FLAG_IN_INIT_TREE));
  c.Set("processFlags", flags);

  Napi::Object fd_kinds = Napi::Object::New(env);
  fd_kinds.Set("unknown", U32(env, NSGUARD_FD_UNKNOWN));
  fd_kinds.Set("nsfs", U32(env, NSGUARD_FD_NSFS));
  fd_kinds.Set("pidfd", U32(env, NSGUARD_FD_PIDFD));
  fd_kinds.Set("other", U32(env, NSGUARD_FD_OTHER));
  c.Set("fdKinds", fd_kinds);

  Napi::Object syscall_flags = Napi::Object::New(env);
  syscall_flags.Set("COMPAT", U32(env, NSGUARD_SYSCALL_COMPAT));
  syscall_flags.Set("CLONE3_FLAGS", U32(env, NSGUARD_SYSCALL_CLONE3_FLAGS));
  c.Set("syscallFlags", syscall_flags);

  Napi::Object ns_calls = Napi::Object::New(env);
  ns_calls.Set("none", U32(env, NSGUARD_NS_CALL_NONE));
  ns_calls.Set("setns", U32(env, NSGUARD_NS_CALL_SETNS));
  ns_calls.Set("unshare", U32(env, NSGUARD_NS_CALL_UNSHARE));
  ns_calls.Set("clone", U32(env, NSGUARD_NS_CALL_CLONE));
  ns_calls.Set("clone3", U32(env, NSGUARD_NS_CALL_CLONE3));
  c.Set("nsCalls", ns_calls);

  Napi::Object arg_ops = Napi::Object::New(env);
  arg_ops.Set("Equal", U32(env, NSGUARD_ARG_EQUAL));
  arg_ops.Set("NotEqual", U32(env, NSGUARD_ARG_NOT_EQUAL));
  arg_ops.Set("Mask", U32(env, NSGUARD_ARG_MASK));
  arg_ops.Set("GT", U32(env, NSGUARD_ARG_GT));
  arg_ops.Set("LT", U32(env, NSGUARD_ARG_LT));
  c.Set("argOps", arg_ops);
  c.Set("MAX_ARG_FILTERS", U32(env, NSGUARD_MAX_ARG_FILTERS));
  c.Set("MAX_ARG_VALUES", U32(env, NSGUARD_MAX_ARG_VALUES));

  // Slot of each namespace in nsguard_task.ns, under its RawNamespaces name.
  Napi::Object ns = Napi::Object::New(env);
  ns.Set("uts", U32(env, NSGUARD_NS_UTS));
  ns.Set("ipc", U32(env, NSGUARD_NS_IPC));
  ns.Set("mnt", U32(env, NSGUARD_NS_MNT));
  ns.Set("pid", U32(env, NSGUARD_NS_PID));
  ns.Set("pidForChildren", U32(env, NSGUARD_NS_PID_FOR_CHILDREN));
  ns.Set("net", U32(env, NSGUARD_NS_NET));
  ns.Set("time", U32(env, NSGUARD_NS_TIME));
  ns.Set("timeForChildren", U32(env, NSGUARD_NS_TIME_FOR_CHILDREN));
  ns.Set("cgroup", U32(env, NSGUARD_NS_CGROUP));
  ns.Set("user", U32(env, NSGUARD_NS_USER));
  c.Set("nsIndex", ns);

  c.Set("layout", MakeLayout(env));
  return c;
}

}  // namespace nsguard
