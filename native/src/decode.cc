// SPDX-License-Identifier: Apache-2.0
#include "decode.h"

#include "addon_state.h"

#include <cstddef>
#include <cstring>
#include <string>
#include <vector>

#include "header.h"

// --- layout contract ---------------------------------------------------------------------------
// The numbers below are written out by hand from bpf/include/nsguard_events.h. BPF (clang -target
// bpf) and this C++ code compile the same header, but both must also agree with these values: if
// the header changes shape, this file stops compiling until someone re-checks decode + TS types.
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

NSG_SIZE(nsguard_exec_event, 1824);
NSG_OFF(nsguard_exec_event, hdr, 0);
NSG_OFF(nsguard_exec_event, task, 16);
NSG_OFF(nsguard_exec_event, parent, 128);
NSG_OFF(nsguard_exec_event, flags, 144);
NSG_OFF(nsguard_exec_event, filename_len, 148);
NSG_OFF(nsguard_exec_event, args_len, 150);
NSG_OFF(nsguard_exec_event, cwd_len, 152);
NSG_OFF(nsguard_exec_event, cgroup_name_len, 154);
NSG_OFF(nsguard_exec_event, pad, 156);
NSG_OFF(nsguard_exec_event, filename, 160);
NSG_OFF(nsguard_exec_event, args, 416);
NSG_OFF(nsguard_exec_event, cwd, 1440);
NSG_OFF(nsguard_exec_event, cgroup_name, 1696);

NSG_SIZE(nsguard_clone_event, 144);
NSG_OFF(nsguard_clone_event, hdr, 0);
NSG_OFF(nsguard_clone_event, task, 16);
NSG_OFF(nsguard_clone_event, parent, 128);

NSG_SIZE(nsguard_exit_event, 136);
NSG_OFF(nsguard_exit_event, hdr, 0);
NSG_OFF(nsguard_exit_event, task, 16);
NSG_OFF(nsguard_exit_event, exit_code, 128);
NSG_OFF(nsguard_exit_event, pad, 132);

NSG_SIZE(nsguard_syscall_event, 208);
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

NSG_SIZE(nsguard_compat_hooks, 4 + 4 * NSGUARD_MAX_COMPAT_HOOKS);

NSG_SIZE(nsguard_proc, 40);
NSG_OFF(nsguard_proc, key, 0);
NSG_OFF(nsguard_proc, parent, 16);
NSG_OFF(nsguard_proc, nspid, 32);
NSG_OFF(nsguard_proc, flags, 36);

NSG_SIZE(nsguard_pid_filter, 32);
NSG_OFF(nsguard_pid_filter, op, 0);
NSG_OFF(nsguard_pid_filter, flags, 4);
NSG_OFF(nsguard_pid_filter, count, 8);
NSG_OFF(nsguard_pid_filter, values, 12);
NSG_OFF(nsguard_pid_filter, pad, 28);

NSG_SIZE(nsguard_selector, 40);
NSG_OFF(nsguard_selector, pids, 0);
NSG_OFF(nsguard_selector, action, 32);
NSG_OFF(nsguard_selector, pad, 36);

NSG_SIZE(nsguard_hook, 216);
NSG_OFF(nsguard_hook, enabled, 0);
NSG_OFF(nsguard_hook, selector_count, 4);
NSG_OFF(nsguard_hook, fd_arg, 8);
NSG_OFF(nsguard_hook, pad, 12);
NSG_OFF(nsguard_hook, selectors, 16);

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

// Copy-out a struct from a possibly unaligned record (records in a batch are copied back to back).
template <typename T>
T Load(const uint8_t* data) {
  T v;
  std::memcpy(&v, data, sizeof(T));
  return v;
}

// A string from a fixed char array: at most `len` bytes (the *_len field, clamped to the array),
// cut at the first NUL. Invalid UTF-8 becomes U+FFFD (napi_create_string_utf8).
Napi::String FixedString(Napi::Env env, const char* buf, size_t cap, size_t len) {
  if (len > cap) len = cap;
  return Napi::String::New(env, buf, strnlen(buf, len));
}

Napi::Value U64(Napi::Env env, uint64_t v) { return Napi::BigInt::New(env, v); }
Napi::Value U32(Napi::Env env, uint32_t v) { return Napi::Number::New(env, v); }

Napi::Object ProcessKey(Napi::Env env, const DecodeNames& k, const struct nsguard_process_key& key) {
  Napi::Object o = Napi::Object::New(env);
  o.Set(k.pid, U32(env, key.pid));
  o.Set(k.ktime, U64(env, key.ktime));
  return o;
}

Napi::Object Namespaces(Napi::Env env, const DecodeNames& k, const __u32* ns) {
  Napi::Object o = Napi::Object::New(env);
  o.Set(k.uts, U32(env, ns[NSGUARD_NS_UTS]));
  o.Set(k.ipc, U32(env, ns[NSGUARD_NS_IPC]));
  o.Set(k.mnt, U32(env, ns[NSGUARD_NS_MNT]));
  o.Set(k.pid, U32(env, ns[NSGUARD_NS_PID]));
  o.Set(k.pidForChildren, U32(env, ns[NSGUARD_NS_PID_FOR_CHILDREN]));
  o.Set(k.net, U32(env, ns[NSGUARD_NS_NET]));
  o.Set(k.time, U32(env, ns[NSGUARD_NS_TIME]));
  o.Set(k.timeForChildren, U32(env, ns[NSGUARD_NS_TIME_FOR_CHILDREN]));
  o.Set(k.cgroup, U32(env, ns[NSGUARD_NS_CGROUP]));
  o.Set(k.user, U32(env, ns[NSGUARD_NS_USER]));
  return o;
}

Napi::Object Task(Napi::Env env, const DecodeNames& k, const struct nsguard_task& t) {
  Napi::Object o = Napi::Object::New(env);
  o.Set(k.key, ProcessKey(env, k, t.key));
  o.Set(k.pid, U32(env, t.pid));
  o.Set(k.tid, U32(env, t.tid));
  o.Set(k.ppid, U32(env, t.ppid));
  o.Set(k.nspid, U32(env, t.nspid));
  o.Set(k.uid, U32(env, t.uid));
  o.Set(k.euid, U32(env, t.euid));
  o.Set(k.gid, U32(env, t.gid));
  o.Set(k.auid, U32(env, t.auid));
  o.Set(k.cgroupId, U64(env, t.cgroup_id));
  o.Set(k.ns, Namespaces(env, k, t.ns));
  o.Set(k.comm, FixedString(env, t.comm, NSGUARD_COMM_LEN, NSGUARD_COMM_LEN));
  return o;
}

Napi::Object Common(Napi::Env env, const DecodeNames& k, const Napi::Value& op, const struct nsguard_header& hdr,
                    const struct nsguard_task& task) {
  Napi::Object o = Napi::Object::New(env);
  o.Set(k.op, op);
  o.Set(k.ktime, U64(env, hdr.ktime));
  o.Set(k.task, Task(env, k, task));
  return o;
}

// Splits a NUL-separated buffer. A trailing NUL ends the last piece; a last piece with no NUL
// (cut off by the kernel side's buffer limit) is returned with *cut = true.
std::vector<std::string> SplitNul(const char* buf, size_t len, bool* cut) {
  std::vector<std::string> out;
  *cut = false;
  size_t start = 0;
  while (start < len) {
    const void* nul = std::memchr(buf + start, '\0', len - start);
    size_t end = nul ? static_cast<size_t>(static_cast<const char*>(nul) - buf) : len;
    out.emplace_back(buf + start, end - start);
    if (nul == nullptr) *cut = true;
    start = end + 1;
  }
  return out;
}

// Exec args. The BPF side copies the new process's argv area as is (argv[0]\0argv[1]\0…, see
// bpf/process.bpf.c), and RawExecEvent.args is argv[1..]: argv[0] is dropped here. An argument cut
// by NSGUARD_ARGS_LEN is kept as far as it goes (the event carries NSGUARD_FLAG_TRUNC_ARGS).
Napi::Array ExecArgs(Napi::Env env, const char* buf, size_t len) {
  if (len > NSGUARD_ARGS_LEN) len = NSGUARD_ARGS_LEN;
  bool cut = false;
  std::vector<std::string> parts = SplitNul(buf, len, &cut);
  Napi::Array arr = Napi::Array::New(env);
  for (size_t i = 1; i < parts.size(); i++) {
    arr.Set(static_cast<uint32_t>(i - 1), Napi::String::New(env, parts[i]));
  }
  return arr;
}

// Exec cwd. bpf/lib/path.bpf.h writes the path's components innermost first, each NUL-terminated
// ("bin\0local\0usr\0" for /usr/local/bin), because forward writes are what the verifier can
// bound; cwd_len 0 with NSGUARD_FLAG_ROOTCWD is "/", and NSGUARD_FLAG_ERROR_CWD gives "".
// When the walk ran out of buffer, the outermost components are missing: the cut piece is dropped
// and the result starts with "..." instead of "/", so a partial path never passes for a full one.
Napi::String ExecCwd(Napi::Env env, const char* buf, size_t len, uint32_t flags) {
  if (flags & NSGUARD_FLAG_ERROR_CWD) return Napi::String::New(env, "");
  if (len == 0) return Napi::String::New(env, (flags & NSGUARD_FLAG_ROOTCWD) ? "/" : "");
  if (len > NSGUARD_CWD_LEN) len = NSGUARD_CWD_LEN;
  bool cut = false;
  std::vector<std::string> parts = SplitNul(buf, len, &cut);
  if (cut) parts.pop_back();
  std::string path = cut ? "..." : "";
  for (size_t i = parts.size(); i-- > 0;) {
    path += '/';
    path += parts[i];
  }
  if (path.empty()) path = "/";
  return Napi::String::New(env, path);
}

Napi::Value FdKindName(const DecodeNames& k, uint32_t kind) {
  switch (kind) {
    case NSGUARD_FD_NSFS: return k.nsfs;
    case NSGUARD_FD_PIDFD: return k.pidfd;
    case NSGUARD_FD_OTHER: return k.other;
    default: return k.unknown;  // NSGUARD_FD_UNKNOWN and values this build does not know
  }
}

}  // namespace

DecodeNames GetDecodeNames(Napi::Env env) {
  // Held as one array: Node-API (version 8) can reference objects but not strings.
  std::shared_ptr<AddonState> state = AddonState::Get(env);
  if (state->decode_names.IsEmpty()) {
    Napi::Array all = Napi::Array::New(env);
    uint32_t n = 0;
#define NSGUARD_NAME_NEW(name) all.Set(n++, Napi::String::New(env, #name));
    NSGUARD_DECODE_NAMES(NSGUARD_NAME_NEW)
#undef NSGUARD_NAME_NEW
    state->decode_names = Napi::Persistent(all);
  }
  Napi::Array all = state->decode_names.Value();
  DecodeNames names;
  uint32_t i = 0;
#define NSGUARD_NAME_VALUE(name) names.name = all.Get(i++);
  NSGUARD_DECODE_NAMES(NSGUARD_NAME_VALUE)
#undef NSGUARD_NAME_VALUE
  return names;
}

size_t ValidateRecord(const void* data, size_t size) {
  if (data == nullptr || size < sizeof(struct nsguard_header)) return 0;
  struct nsguard_header hdr;
  std::memcpy(&hdr, data, sizeof(hdr));
  size_t min = MinSizeForOp(hdr.op);
  if (min == 0) return 0;                       // unknown op (0 is reserved: zeroed record)
  if (hdr.size < min || hdr.size > size) return 0;  // short, or claims more than was submitted
  return hdr.size;
}

Napi::Value DecodeRecord(Napi::Env env, const DecodeNames& k, const uint8_t* data, size_t len) {
  const auto hdr = Load<struct nsguard_header>(data);
  switch (hdr.op) {
    case NSGUARD_OP_EXEC: {
      const auto e = Load<struct nsguard_exec_event>(data);
      Napi::Object o = Common(env, k, k.exec, e.hdr, e.task);
      o.Set(k.parent, ProcessKey(env, k, e.parent));
      o.Set(k.flags, U32(env, e.flags));
      o.Set(k.filename, FixedString(env, e.filename, NSGUARD_FILENAME_LEN, e.filename_len));
      o.Set(k.args, ExecArgs(env, e.args, e.args_len));
      o.Set(k.cwd, ExecCwd(env, e.cwd, e.cwd_len, e.flags));
      o.Set(k.cgroupName,
            FixedString(env, e.cgroup_name, NSGUARD_CGROUP_NAME_LEN, e.cgroup_name_len));
      return o;
    }
    case NSGUARD_OP_CLONE: {
      const auto e = Load<struct nsguard_clone_event>(data);
      Napi::Object o = Common(env, k, k.clone, e.hdr, e.task);
      o.Set(k.parent, ProcessKey(env, k, e.parent));
      return o;
    }
    case NSGUARD_OP_EXIT: {
      const auto e = Load<struct nsguard_exit_event>(data);
      Napi::Object o = Common(env, k, k.exit, e.hdr, e.task);
      o.Set(k.exitCode, U32(env, e.exit_code));
      return o;
    }
    case NSGUARD_OP_SYSCALL: {
      const auto e = Load<struct nsguard_syscall_event>(data);
      Napi::Object o = Common(env, k, k.syscall, e.hdr, e.task);
      o.Set(k.hookId, U32(env, e.hook_id));
      o.Set(k.syscallNr, U32(env, e.syscall_nr));
      o.Set(k.action, U32(env, e.action));
      o.Set(k.selector, U32(env, e.selector));
      Napi::Array args = Napi::Array::New(env, NSGUARD_SYSCALL_ARGS);
      for (uint32_t i = 0; i < NSGUARD_SYSCALL_ARGS; i++) args.Set(i, U64(env, e.args[i]));
      o.Set(k.args, args);
      o.Set(k.fdKind, FdKindName(k, e.fd_kind));
      o.Set(k.fdNsInum, U32(env, e.fd_ns_inum));
      o.Set(k.signalErr, Napi::Number::New(env, e.signal_err));
      o.Set(k.compat, Napi::Boolean::New(env, (e.flags & NSGUARD_SYSCALL_COMPAT) != 0));
      return o;
    }
    default:
      return env.Undefined();  // unreachable after ValidateRecord
  }
}

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
  c.Set("processFlags", flags);
  return c;
}

}  // namespace nsguard
