// SPDX-License-Identifier: Apache-2.0
#include "maps.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <vector>

#include "errors.h"

// Map value layouts the addon writes or reads (the ring-buffer records are asserted in decode.cc).
static_assert(sizeof(struct nsguard_reader_state) == 8, "sizeof(struct nsguard_reader_state) changed");
static_assert(offsetof(struct nsguard_reader_state, sleeping) == 0, "nsguard_reader_state.sleeping moved");
static_assert(sizeof(struct nsguard_source_key) == 16, "sizeof(struct nsguard_source_key) changed");
static_assert(sizeof(struct nsguard_source) == 64 + NSGUARD_CGROUP_NAME_LEN,
              "sizeof(struct nsguard_source) changed");
static_assert(offsetof(struct nsguard_source, cgroup_name) == 64, "nsguard_source.cgroup_name moved");
static_assert(sizeof(struct nsguard_throttle_window) == 24, "sizeof(struct nsguard_throttle_window) changed");
static_assert(NSGUARD_CNT_THROTTLED < NSGUARD_CNT_MAX, "counter indices");
static_assert(sizeof(struct nsguard_syscall_hooks) == 8 + 8 * NSGUARD_MAX_SYSCALL_HOOKS,
              "sizeof(struct nsguard_syscall_hooks) changed");
static_assert(sizeof(struct nsguard_scope_key) == 16, "sizeof(struct nsguard_scope_key) changed");
static_assert(offsetof(struct nsguard_scope_key, cgroup_id) == 8, "nsguard_scope_key.cgroup_id moved");
static_assert(NSGUARD_SCOPE_HOST_CGROUP != 0 && NSGUARD_SCOPE_ALL_CONTAINERS != 0,
              "scope sentinels must differ from 0 (no scope)");
static_assert(NSGUARD_THROTTLE_LOW_BYTES < NSGUARD_THROTTLE_HIGH_BYTES &&
                  NSGUARD_THROTTLE_HIGH_BYTES < NSGUARD_THROTTLE_MAX_BYTES &&
                  NSGUARD_THROTTLE_MAX_BYTES < NSGUARD_RINGBUF_BYTES,
              "throttle watermarks out of order");

namespace nsguard {

namespace {

Napi::Value Field(const Napi::Object& o, const char* key) { return o.Get(key); }

bool IsKnownAction(uint32_t a) {
  return a == NSGUARD_ACTION_POST || a == NSGUARD_ACTION_SIGKILL || a == NSGUARD_ACTION_NOPOST;
}

// selectors[i].args: matchArgs on integer arguments, [{ op, index, values, width32, signed }].
bool EncodeArgFilters(Napi::Env env, const Napi::Value& v, const std::string& where,
                      struct nsguard_selector* dst) {
  if (v.IsUndefined() || v.IsNull()) return true;
  if (!v.IsArray()) {
    ThrowTypeError(env, where + " must be an array of { op, index, values, width32, signed }");
    return false;
  }
  Napi::Array filters = v.As<Napi::Array>();
  if (filters.Length() > NSGUARD_MAX_ARG_FILTERS) {
    ThrowTypeError(env, where + " has " + std::to_string(filters.Length()) +
                            " entries; the kernel table holds at most " +
                            std::to_string(NSGUARD_MAX_ARG_FILTERS) + " (NSGUARD_MAX_ARG_FILTERS)");
    return false;
  }
  dst->arg_count = filters.Length();
  for (uint32_t i = 0; i < filters.Length(); i++) {
    const std::string w = where + "[" + std::to_string(i) + "]";
    Napi::Value fv = filters.Get(i);
    if (!fv.IsObject()) {
      ThrowTypeError(env, w + " must be an object { op, index, values, width32, signed }");
      return false;
    }
    Napi::Object f = fv.As<Napi::Object>();
    struct nsguard_arg_filter* out = &dst->args[i];
    std::string op;
    if (!GetString(env, Field(f, "op"), (w + ".op").c_str(), &op)) return false;
    if (op == "Equal") {
      out->op = NSGUARD_ARG_EQUAL;
    } else if (op == "NotEqual") {
      out->op = NSGUARD_ARG_NOT_EQUAL;
    } else if (op == "Mask") {
      out->op = NSGUARD_ARG_MASK;
    } else if (op == "GT") {
      out->op = NSGUARD_ARG_GT;
    } else if (op == "LT") {
      out->op = NSGUARD_ARG_LT;
    } else {
      ThrowTypeError(env, w + ".op must be Equal, NotEqual, Mask, GT or LT (got \"" + op + "\")");
      return false;
    }
    if (!GetU32(env, Field(f, "index"), (w + ".index").c_str(), &out->index)) return false;
    if (out->index >= NSGUARD_SYSCALL_ARGS) {
      ThrowTypeError(env, w + ".index must be an argument index from 0 to " +
                              std::to_string(NSGUARD_SYSCALL_ARGS - 1));
      return false;
    }
    bool width32 = false, is_signed = false;
    if (!GetBool(env, Field(f, "width32"), (w + ".width32").c_str(), &width32) ||
        !GetBool(env, Field(f, "signed"), (w + ".signed").c_str(), &is_signed)) {
      return false;
    }
    out->flags = (width32 ? NSGUARD_ARG_FLAG_32BIT : 0) | (is_signed ? NSGUARD_ARG_FLAG_SIGNED : 0);
    Napi::Value vv = Field(f, "values");
    if (!vv.IsArray()) {
      ThrowTypeError(env, w + ".values must be an array of bigints");
      return false;
    }
    Napi::Array values = vv.As<Napi::Array>();
    const uint32_t max = (out->op == NSGUARD_ARG_GT || out->op == NSGUARD_ARG_LT) ? 1 : NSGUARD_MAX_ARG_VALUES;
    if (values.Length() == 0 || values.Length() > max) {
      ThrowTypeError(env, w + ".values has " + std::to_string(values.Length()) +
                              " values; " + op + " takes 1 to " + std::to_string(max));
      return false;
    }
    out->count = values.Length();
    for (uint32_t j = 0; j < values.Length(); j++) {
      const std::string vw = w + ".values[" + std::to_string(j) + "]";
      if (!GetU64(env, values.Get(j), vw.c_str(), reinterpret_cast<uint64_t*>(&out->values[j]))) return false;
    }
  }
  return true;
}

bool EncodeNsCall(Napi::Env env, const Napi::Value& v, uint32_t* out) {
  *out = NSGUARD_NS_CALL_NONE;
  if (v.IsUndefined() || v.IsNull()) return true;
  std::string call;
  if (!GetString(env, v, "hook table.nsCall", &call)) return false;
  if (call == "setns") {
    *out = NSGUARD_NS_CALL_SETNS;
  } else if (call == "unshare") {
    *out = NSGUARD_NS_CALL_UNSHARE;
  } else if (call == "clone") {
    *out = NSGUARD_NS_CALL_CLONE;
  } else if (call == "clone3") {
    *out = NSGUARD_NS_CALL_CLONE3;
  } else {
    ThrowTypeError(env, "hook table.nsCall must be setns, unshare, clone or clone3 (got \"" + call + "\")");
    return false;
  }
  return true;
}

}  // namespace

bool EncodeHookTable(Napi::Env env, const Napi::Value& v, struct nsguard_hook* out) {
  std::memset(out, 0, sizeof(*out));
  if (!v.IsObject()) {
    ThrowTypeError(env, "hook table must be an object { enabled, fdArg, selectors }");
    return false;
  }
  Napi::Object t = v.As<Napi::Object>();
  bool enabled = false;
  if (!GetBool(env, Field(t, "enabled"), "hook table.enabled", &enabled)) return false;
  out->enabled = enabled ? 1 : 0;

  int32_t fd_arg = -1;
  if (!GetI32(env, Field(t, "fdArg"), "hook table.fdArg", &fd_arg)) return false;
  if (fd_arg < -1 || fd_arg >= NSGUARD_SYSCALL_ARGS) {
    ThrowTypeError(env, "hook table.fdArg must be -1 (none) or an argument index from 0 to " +
                            std::to_string(NSGUARD_SYSCALL_ARGS - 1) + " (got " +
                            std::to_string(fd_arg) + ")");
    return false;
  }
  out->fd_arg = fd_arg;
  if (!EncodeNsCall(env, Field(t, "nsCall"), &out->ns_call)) return false;
  // scopeId: absent = every workload (0).
  Napi::Value scope = Field(t, "scopeId");
  if (!scope.IsUndefined() && !GetU32(env, scope, "hook table.scopeId", &out->scope_id)) return false;
  if (out->scope_id == NSGUARD_SCOPE_ALL_CONTAINERS) {
    ThrowTypeError(env, "hook table.scopeId " + std::to_string(out->scope_id) +
                            " is reserved (NSGUARD_SCOPE_ALL_CONTAINERS)");
    return false;
  }

  Napi::Value sv = Field(t, "selectors");
  if (!sv.IsArray()) {
    ThrowTypeError(env, "hook table.selectors must be an array");
    return false;
  }
  Napi::Array sels = sv.As<Napi::Array>();
  if (sels.Length() > NSGUARD_MAX_SELECTORS) {
    ThrowTypeError(env, "hook table.selectors has " + std::to_string(sels.Length()) +
                            " selectors; the kernel table holds at most " +
                            std::to_string(NSGUARD_MAX_SELECTORS) +
                            " (NSGUARD_MAX_SELECTORS)");
    return false;
  }
  out->selector_count = sels.Length();
  for (uint32_t i = 0; i < sels.Length(); i++) {
    const std::string where = "hook table.selectors[" + std::to_string(i) + "]";
    Napi::Value selv = sels.Get(i);
    if (!selv.IsObject()) {
      ThrowTypeError(env, where + " must be an object { pids?, action }");
      return false;
    }
    Napi::Object sel = selv.As<Napi::Object>();
    struct nsguard_selector* dst = &out->selectors[i];

    uint32_t action = 0;
    if (!GetU32(env, Field(sel, "action"), (where + ".action").c_str(), &action)) return false;
    if (!IsKnownAction(action)) {
      ThrowTypeError(env, where + ".action must be " + std::to_string(NSGUARD_ACTION_POST) +
                              " (Post), " + std::to_string(NSGUARD_ACTION_SIGKILL) +
                              " (Sigkill) or " + std::to_string(NSGUARD_ACTION_NOPOST) +
                              " (NoPost); got " + std::to_string(action));
      return false;
    }
    dst->action = action;
    if (!EncodeArgFilters(env, Field(sel, "args"), where + ".args", dst)) return false;

    Napi::Value pv = Field(sel, "pids");
    if (pv.IsUndefined() || pv.IsNull()) continue;  // op 0 = no matchPIDs in this selector
    if (!pv.IsObject()) {
      ThrowTypeError(env, where + ".pids must be an object { op, isNamespacePid, followForks, "
                                  "values }");
      return false;
    }
    Napi::Object pids = pv.As<Napi::Object>();
    std::string op;
    if (!GetString(env, Field(pids, "op"), (where + ".pids.op").c_str(), &op)) return false;
    if (op == "In") {
      dst->pids.op = NSGUARD_FILTER_IN;
    } else if (op == "NotIn") {
      dst->pids.op = NSGUARD_FILTER_NOTIN;
    } else {
      ThrowTypeError(env, where + ".pids.op must be \"In\" or \"NotIn\" (got \"" + op + "\")");
      return false;
    }
    bool nspid = false, follow = false;
    if (!GetBool(env, Field(pids, "isNamespacePid"), (where + ".pids.isNamespacePid").c_str(),
                 &nspid) ||
        !GetBool(env, Field(pids, "followForks"), (where + ".pids.followForks").c_str(),
                 &follow)) {
      return false;
    }
    dst->pids.flags = (nspid ? NSGUARD_PID_FLAG_NSPID : 0) | (follow ? NSGUARD_PID_FLAG_FOLLOW : 0);
    Napi::Value vv = Field(pids, "values");
    if (!vv.IsArray()) {
      ThrowTypeError(env, where + ".pids.values must be an array of pids");
      return false;
    }
    Napi::Array values = vv.As<Napi::Array>();
    if (values.Length() == 0 || values.Length() > NSGUARD_MAX_PID_VALUES) {
      ThrowTypeError(env, where + ".pids.values has " + std::to_string(values.Length()) +
                              " values; it must have 1 to " +
                              std::to_string(NSGUARD_MAX_PID_VALUES) +
                              " (NSGUARD_MAX_PID_VALUES)");
      return false;
    }
    dst->pids.count = values.Length();
    for (uint32_t j = 0; j < values.Length(); j++) {
      const std::string w = where + ".pids.values[" + std::to_string(j) + "]";
      if (!GetU32(env, values.Get(j), w.c_str(), &dst->pids.values[j])) return false;
    }
  }
  return true;
}

bool EncodeSeedProcess(Napi::Env env, const Napi::Value& v, const std::string& what,
                       uint32_t* key, struct nsguard_proc* out) {
  std::memset(out, 0, sizeof(*out));
  if (!v.IsObject()) {
    ThrowTypeError(env, what + " must be an object { pid, ktime, parentPid, parentKtime, nspid, "
                               "flags }");
    return false;
  }
  Napi::Object p = v.As<Napi::Object>();
  uint32_t flags = 0, nspid = 0, pid = 0, ppid = 0;
  uint64_t ktime = 0, pktime = 0;
  if (!GetU32(env, Field(p, "pid"), (what + ".pid").c_str(), &pid) ||
      !GetU64(env, Field(p, "ktime"), (what + ".ktime").c_str(), &ktime) ||
      !GetU32(env, Field(p, "parentPid"), (what + ".parentPid").c_str(), &ppid) ||
      !GetU64(env, Field(p, "parentKtime"), (what + ".parentKtime").c_str(), &pktime) ||
      !GetU32(env, Field(p, "nspid"), (what + ".nspid").c_str(), &nspid) ||
      !GetU32(env, Field(p, "flags"), (what + ".flags").c_str(), &flags)) {
    return false;
  }
  out->key.pid = pid;
  out->key.ktime = ktime;
  out->parent.pid = ppid;
  out->parent.ktime = pktime;
  out->nspid = nspid;
  out->flags = flags;
  *key = out->key.pid;
  return true;
}

Napi::Object MakeThrottleConstants(Napi::Env env) {
  Napi::Object c = Napi::Object::New(env);
  c.Set("ringbufBytes", Napi::Number::New(env, NSGUARD_RINGBUF_BYTES));
  c.Set("lowBytes", Napi::Number::New(env, NSGUARD_THROTTLE_LOW_BYTES));
  c.Set("highBytes", Napi::Number::New(env, NSGUARD_THROTTLE_HIGH_BYTES));
  c.Set("maxBytes", Napi::Number::New(env, NSGUARD_THROTTLE_MAX_BYTES));
  c.Set("windowNs", Napi::Number::New(env, static_cast<double>(NSGUARD_THROTTLE_WINDOW_NS)));
  c.Set("minBurst", Napi::Number::New(env, NSGUARD_THROTTLE_MIN_BURST));
  c.Set("cgroupV1Flag", Napi::BigInt::New(env, static_cast<uint64_t>(NSGUARD_SOURCE_CGROUP_V1)));
  return c;
}

Napi::Object SourceToJs(Napi::Env env, const struct nsguard_source_key& key,
                        const struct nsguard_source& src) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("cgroupId", Napi::BigInt::New(env, static_cast<uint64_t>(key.cgroup_id)));
  o.Set("pid", Napi::Number::New(env, key.pid));
  size_t len = std::min<size_t>(src.cgroup_name_len, NSGUARD_CGROUP_NAME_LEN);
  o.Set("cgroupName", Napi::String::New(env, src.cgroup_name, strnlen(src.cgroup_name, len)));
  o.Set("suppressed", Napi::BigInt::New(env, static_cast<uint64_t>(src.suppressed)));
  o.Set("posted", Napi::BigInt::New(env, static_cast<uint64_t>(src.posted)));
  o.Set("lost", Napi::BigInt::New(env, static_cast<uint64_t>(src.lost)));
  o.Set("windowCount", Napi::BigInt::New(env, static_cast<uint64_t>(src.count)));
  o.Set("windowEpoch", Napi::BigInt::New(env, static_cast<uint64_t>(src.epoch)));
  o.Set("createdKtime", Napi::BigInt::New(env, static_cast<uint64_t>(src.created_ktime)));
  o.Set("lastSuppressedKtime",
        Napi::BigInt::New(env, static_cast<uint64_t>(src.last_suppressed_ktime)));
  return o;
}

int SumPercpuCounters(int map_fd, uint64_t* sums, uint32_t n) {
  int ncpus = libbpf_num_possible_cpus();
  if (ncpus <= 0) return ncpus < 0 ? ncpus : -EINVAL;
  // Per-CPU values are rounded up to 8 bytes each; u64 already is.
  std::vector<uint64_t> values(static_cast<size_t>(ncpus));
  for (uint32_t i = 0; i < n; i++) {
    uint32_t key = i;
    if (bpf_map_lookup_elem(map_fd, &key, values.data()) != 0) return -errno;
    uint64_t sum = 0;
    for (uint64_t x : values) sum += x;
    sums[i] = sum;
  }
  return 0;
}

}  // namespace nsguard
