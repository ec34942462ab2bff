// SPDX-License-Identifier: Apache-2.0
// Module init: per-environment AddonState (instance data + cleanup hook), the two classes, and the
// free functions. No globals: everything mutable hangs off the environment.
#include <malloc.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <napi.h>
#include <sys/resource.h>
#include <time.h>

#include <cerrno>
#include <climits>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "addon_state.h"
#include "bpf_object.h"
#include "decode.h"
#include "errors.h"
#include "event_stream.h"
#include "peer_credentials.h"

namespace nsguard {

std::shared_ptr<AddonState> AddonState::Get(Napi::Env env) {
  AddonHandle* h = env.GetInstanceData<AddonHandle>();
  return h != nullptr ? h->state : nullptr;
}

void AddonState::Cleanup(std::shared_ptr<AddonState>* holder) {
  std::shared_ptr<AddonState> state = *holder;
  delete holder;
  state->torn_down = true;
  // Streams first (joins reader threads), then objects (links, then the bpf_object). Copies:
  // both calls edit the sets.
  std::vector<EventStream*> streams(state->streams.begin(), state->streams.end());
  for (EventStream* s : streams) s->StopNative(false);
  std::vector<BpfObject*> objects(state->objects.begin(), state->objects.end());
  for (BpfObject* o : objects) o->CloseNative();
  // The env is still fully usable here; drop JS references now so ~AddonState never touches JS.
  state->bpf_error.Reset();
  state->bpf_object_ctor.Reset();
  state->event_stream_ctor.Reset();
}

namespace {

int64_t Ns(const struct timespec& ts) {
  return static_cast<int64_t>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

// __init({ BpfError }) — the TS façade hands over its error class (better-sqlite3's SqliteError
// pattern), so every native failure is an instance of the class users import.
Napi::Value InitJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject() || !info[0].As<Napi::Object>().Get("BpfError").IsFunction()) {
    ThrowTypeError(env, "__init expects { BpfError: class }");
    return env.Undefined();
  }
  std::shared_ptr<AddonState> state = AddonState::Get(env);
  state->bpf_error =
      Napi::Persistent(info[0].As<Napi::Object>().Get("BpfError").As<Napi::Function>());
  return env.Undefined();
}

// CLOCK_REALTIME − CLOCK_BOOTTIME in ns: adds to bpf_ktime_get_boot_ns() values to get wall
// time. Sampled as realtime/boottime/realtime several times; the tightest bracket wins.
Napi::Value BootClockOffsetNs(const Napi::CallbackInfo& info) {
  int64_t best_window = INT64_MAX, best = 0;
  for (int i = 0; i < 16; i++) {
    struct timespec a, b, c;
    clock_gettime(CLOCK_REALTIME, &a);
    clock_gettime(CLOCK_BOOTTIME, &b);
    clock_gettime(CLOCK_REALTIME, &c);
    int64_t window = Ns(c) - Ns(a);
    if (window >= 0 && window < best_window) {
      best_window = window;
      best = Ns(a) + window / 2 - Ns(b);
    }
  }
  return Napi::BigInt::New(info.Env(), best);
}

// Hands memory that malloc keeps in its arenas back to the kernel; returns whether any was.
// Node allocates every ArrayBuffer's backing store (encoded events, socket writes) and our
// reader its batches with malloc; after a burst glibc keeps the freed pages as resident memory
// until something asks for them, so the agent's RSS stays at its peak for good.
Napi::Value TrimMemory(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), malloc_trim(0) != 0);
}

Napi::Value LibbpfVersion(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), std::to_string(libbpf_major_version()) + "." +
                                           std::to_string(libbpf_minor_version()));
}

// The host's namespace inode numbers (the kernel's initial namespaces), by RawNamespaces name, from
// kernel BTF's `enum init_ns_ino` — the same source syscalls.bpf.c's verdicts use, so is_host and
// to_host agree; /proc/1/ns, which Tetragon reads, is unreadable on some machines. Undefined on
// kernels without that enum (the net and mnt ones were allocated at boot before it existed).
Napi::Value HostNamespaceInums(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  struct btf* btf = btf__load_vmlinux_btf();
  if (libbpf_get_error(btf)) return env.Undefined();
  Napi::Value result = env.Undefined();
  const __s32 id = btf__find_by_name_kind(btf, "init_ns_ino", BTF_KIND_ENUM);
  if (id > 0) {
    const struct btf_type* t = btf__type_by_id(btf, id);
    const struct btf_enum* values = btf_enum(t);
    // enumerator → the RawNamespaces fields it stands for (the *_for_children ones share it).
    const std::pair<const char*, std::vector<const char*>> names[] = {
        {"UTS_NS_INIT_INO", {"uts"}},
        {"IPC_NS_INIT_INO", {"ipc"}},
        {"MNT_NS_INIT_INO", {"mnt"}},
        {"PID_NS_INIT_INO", {"pid", "pidForChildren"}},
        {"NET_NS_INIT_INO", {"net"}},
        {"TIME_NS_INIT_INO", {"time", "timeForChildren"}},
        {"CGROUP_NS_INIT_INO", {"cgroup"}},
        {"USER_NS_INIT_INO", {"user"}},
    };
    Napi::Object out = Napi::Object::New(env);
    size_t found = 0;
    for (const auto& [enumerator, fields] : names) {
      for (int i = 0; i < btf_vlen(t); i++) {
        if (strcmp(btf__name_by_offset(btf, values[i].name_off), enumerator) != 0) continue;
        for (const char* field : fields) {
          out.Set(field, Napi::Number::New(env, static_cast<uint32_t>(values[i].val)));
        }
        found++;
      }
    }
    if (found == sizeof(names) / sizeof(names[0])) result = out;
  }
  btf__free(btf);
  return result;
}

// Raise RLIMIT_MEMLOCK to infinity for kernels that still charge BPF memory to it. Kernels ≥ 5.11
// (ours is 6.18) charge BPF maps to the memory cgroup instead, and this machine lacks
// CAP_SYS_RESOURCE, so EPERM is expected and harmless: we then raise the soft limit to the hard
// one and report what we got instead of failing.
Napi::Value BumpMemlock(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  struct rlimit inf = {RLIM_INFINITY, RLIM_INFINITY};
  Napi::Object out = Napi::Object::New(env);
  int err = 0;
  if (setrlimit(RLIMIT_MEMLOCK, &inf) != 0) {
    err = errno;
    struct rlimit cur;
    if (getrlimit(RLIMIT_MEMLOCK, &cur) == 0 && cur.rlim_cur != cur.rlim_max) {
      cur.rlim_cur = cur.rlim_max;
      setrlimit(RLIMIT_MEMLOCK, &cur);  // best effort
    }
  }
  struct rlimit now = {0, 0};
  getrlimit(RLIMIT_MEMLOCK, &now);
  out.Set("ok", Napi::Boolean::New(env, err == 0));
  out.Set("code", err == 0 ? Napi::Value(env.Null()) : Napi::String::New(env, ErrnoName(err)));
  auto limit = [&](rlim_t v) -> Napi::Value {
    if (v == RLIM_INFINITY) return Napi::Number::New(env, HUGE_VAL);
    return Napi::Number::New(env, static_cast<double>(v));
  };
  out.Set("soft", limit(now.rlim_cur));
  out.Set("hard", limit(now.rlim_max));
  return out;
}

// batchRecords(samples: Uint8Array[]) → { bytes, count, malformed }: builds a batch from
// ring-buffer samples exactly as the reader does (validation, layout), for record replay and tests
// of the JS decoder against the real validation.
Napi::Value BatchRecords(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsArray()) {
    ThrowTypeError(env, "batchRecords expects an array of Uint8Array samples");
    return env.Undefined();
  }
  Napi::Array in = info[0].As<Napi::Array>();
  auto batch = std::make_unique<Batch>();
  uint32_t malformed = 0;
  std::vector<uint8_t> copy;
  for (uint32_t i = 0; i < in.Length(); i++) {
    Napi::Value v = in.Get(i);
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
      ThrowTypeError(env, "batchRecords: samples[" + std::to_string(i) + "] must be a Uint8Array");
      return env.Undefined();
    }
    Napi::Uint8Array a = v.As<Napi::Uint8Array>();
    copy.assign(a.Data(), a.Data() + a.ByteLength());
    if (!batch->Append(copy.data(), copy.size())) malformed++;
  }
  const size_t count = batch->count();
  batch->Seal();
  Napi::Value bytes = BatchToArrayBuffer(env, std::move(batch));
  if (bytes.IsEmpty()) return env.Undefined();
  Napi::Object out = Napi::Object::New(env);
  out.Set("bytes", bytes);
  out.Set("count", Napi::Number::New(env, static_cast<double>(count)));
  out.Set("malformed", Napi::Number::New(env, malformed));
  return out;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  InstallLibbpfPrint();
  auto state = std::make_shared<AddonState>();
  env.SetInstanceData<AddonHandle>(new AddonHandle{state});
  env.AddCleanupHook(AddonState::Cleanup, new std::shared_ptr<AddonState>(state));

  Napi::Function bpf_object = BpfObject::Init(env);
  Napi::Function event_stream = EventStream::Init(env);
  state->bpf_object_ctor = Napi::Persistent(bpf_object);
  state->event_stream_ctor = Napi::Persistent(event_stream);

  exports.Set("BpfObject", bpf_object);
  exports.Set("EventStream", event_stream);
  exports.Set("__init", Napi::Function::New(env, InitJs, "__init"));
  exports.Set("bootClockOffsetNs", Napi::Function::New(env, BootClockOffsetNs, "bootClockOffsetNs"));
  exports.Set("trimMemory", Napi::Function::New(env, TrimMemory, "trimMemory"));
  exports.Set("libbpfVersion", Napi::Function::New(env, LibbpfVersion, "libbpfVersion"));
  exports.Set("hostNamespaceInums",
              Napi::Function::New(env, HostNamespaceInums, "hostNamespaceInums"));
  exports.Set("bumpMemlock", Napi::Function::New(env, BumpMemlock, "bumpMemlock"));
  exports.Set("peerCredentials", Napi::Function::New(env, PeerCredentials, "peerCredentials"));
  exports.Set("batchRecords", Napi::Function::New(env, BatchRecords, "batchRecords"));
  exports.Set("constants", MakeConstants(env));
  return exports;
}

}  // namespace

}  // namespace nsguard

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) {
  return nsguard::Init(env, exports);
}

NODE_API_MODULE(nsguard_native, InitModule)
