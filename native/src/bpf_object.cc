// SPDX-License-Identifier: Apache-2.0
#include "bpf_object.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include <cerrno>
#include <cstring>
#include <set>
#include <utility>
#include <vector>

#include "decode.h"
#include "errors.h"
#include "event_stream.h"
#include "header.h"
#include "maps.h"

namespace nsguard {

namespace {

constexpr const char* kCountersMap = "nsguard_counters";
constexpr const char* kEventsMap = "nsguard_events";
constexpr const char* kSourcesMap = "nsguard_sources";
constexpr const char* kProcsMap = "nsguard_procs";

std::string WithReason(std::string msg, const LogCapture& log) {
  std::string last = log.LastLine();
  if (!last.empty()) msg += " (libbpf: " + last + ")";
  return msg;
}

// The verifier's own complaint from a captured load log, e.g.
// "program nsguard_bad: R1 invalid mem access 'scalar'": the last line of the last
// "-- BEGIN PROG LOAD LOG --" block that is not one of the verifier's statistics lines.
std::string VerifierReason(const std::string& log) {
  const std::string begin = "-- BEGIN PROG LOAD LOG --";
  size_t b = log.rfind(begin);
  if (b == std::string::npos) return std::string();
  size_t e = log.find("-- END PROG LOAD LOG --", b);
  if (e == std::string::npos) e = log.size();
  std::string program;
  size_t q1 = log.rfind("prog '", b);
  if (q1 != std::string::npos) {
    size_t q2 = log.find('\'', q1 + 6);
    if (q2 != std::string::npos && q2 < b) program = log.substr(q1 + 6, q2 - q1 - 6);
  }
  size_t end = e;
  while (end > b + begin.size()) {
    size_t start = log.rfind('\n', end - 1);
    if (start == std::string::npos || start < b) break;
    std::string line = log.substr(start + 1, end - start - 1);
    end = start;
    if (line.empty() || line.rfind("processed ", 0) == 0 || line.rfind("verification time", 0) == 0 ||
        line.rfind("stack depth", 0) == 0) {
      continue;
    }
    return (program.empty() ? "" : "program " + program + ": ") + line;
  }
  return std::string();
}

}  // namespace

Napi::Function BpfObject::Init(Napi::Env env) {
  return DefineClass(
      env, "BpfObject",
      {
          InstanceMethod<&BpfObject::Load>("__load"),
          InstanceMethod<&BpfObject::Programs>("__programs"),
          InstanceMethod<&BpfObject::Maps>("__maps"),
          InstanceMethod<&BpfObject::ProgramInfo>("__programInfo"),
          InstanceMethod<&BpfObject::AttachTracepoint>("__attachTracepoint"),
          InstanceMethod<&BpfObject::Attach>("__attach"),
          InstanceMethod<&BpfObject::Detach>("__detach"),
          InstanceMethod<&BpfObject::Links>("__links"),
          InstanceMethod<&BpfObject::Close>("__close"),
          InstanceMethod<&BpfObject::UpdateMapElem>("__updateMapElem"),
          InstanceMethod<&BpfObject::InsertMapElem>("__insertMapElem"),
          InstanceMethod<&BpfObject::DeleteMapElem>("__deleteMapElem"),
          InstanceMethod<&BpfObject::ReadCounters>("__readCounters"),
          InstanceMethod<&BpfObject::ReadSources>("__readSources"),
          InstanceMethod<&BpfObject::ReadProcsFollowBits>("__readProcsFollowBits"),
          InstanceMethod<&BpfObject::OpenEventStream>("__openEventStream"),
          InstanceMethod<&BpfObject::GetState>("__state"),
          StaticValue("__throttleConstants", MakeThrottleConstants(env)),
      });
}

BpfObject::BpfObject(const Napi::CallbackInfo& info) : Napi::ObjectWrap<BpfObject>(info) {
  Napi::Env env = info.Env();
  state_ = AddonState::Get(env);
  if (!state_) {
    ThrowTypeError(env, "nsguard native addon state missing");
    return;
  }
  closed_ = true;  // until the open below succeeds
  if (!GetString(env, info[0], "path", &path_)) return;

  BpfObject* other = nullptr;
  if (info.Length() > 1 && !info[1].IsUndefined() && !info[1].IsNull()) {
    if (!info[1].IsObject() ||
        !info[1].As<Napi::Object>().InstanceOf(state_->bpf_object_ctor.Value())) {
      ThrowTypeError(env, "shareMapsWith must be a BpfObject");
      return;
    }
    other = BpfObject::Unwrap(info[1].As<Napi::Object>());
    if (other == nullptr) return;  // napi_unwrap failed: exception pending
    if (other->closed_ || !other->loaded_) {
      ThrowBpfError(env, "open", EINVAL,
                    "open " + path_ + ": shareMapsWith object " + other->path_ +
                        (other->closed_ ? " is closed" : " is not loaded yet; load it first"));
      return;
    }
  }

  LogCapture log;
  struct bpf_object* obj = bpf_object__open_file(path_.c_str(), nullptr);
  if (obj == nullptr) {
    int err = errno;
    ThrowBpfError(env, "open", err,
                  WithReason("open " + path_ + ": " + std::strerror(err), log), &log.text());
    return;
  }

  struct bpf_map* map;
  bpf_object__for_each_map(map, obj) maps_.emplace_back(bpf_map__name(map), map);

  if (other != nullptr) {
    for (const auto& [name, map] : maps_) {
      // .rodata/.bss/.data are per object by nature (and named after the object).
      if (bpf_map__is_internal(map)) continue;
      struct bpf_map* theirs = other->LookupMap(name);
      if (theirs == nullptr) continue;
      // Note: this frees bpf_map__name(map) and renames the map (see maps_ in the header).
      int rc = bpf_map__reuse_fd(map, bpf_map__fd(theirs));
      if (rc != 0) {
        int err = rc < 0 ? -rc : errno;
        bpf_object__close(obj);
        maps_.clear();
        ThrowBpfError(env, "open", err,
                      WithReason("open " + path_ + ": reuse map " + name + " from " +
                                     other->path_ + ": " + std::strerror(err),
                                 log));
        return;
      }
      if (!shared_maps_.empty()) shared_maps_ += ",";
      shared_maps_ += name;
    }
  }

  obj_ = obj;
  closed_ = false;
  state_->objects.insert(this);
}

BpfObject::~BpfObject() {
  CloseNative();
  if (state_) state_->objects.erase(this);
}

void BpfObject::CloseNative() {
  // Copy: StopNative() calls ForgetStream(), which edits streams_.
  std::vector<EventStream*> streams(streams_.begin(), streams_.end());
  for (EventStream* s : streams) s->StopNative(false);
  streams_.clear();
  for (auto& [id, link] : links_) bpf_link__destroy(link);
  links_.clear();
  link_desc_.clear();
  maps_.clear();
  if (obj_ != nullptr) bpf_object__close(obj_);
  obj_ = nullptr;
  closed_ = true;
}

bool BpfObject::RequireOpen(Napi::Env env, const char* op) {
  if (!closed_) return true;
  ThrowBpfError(env, op, EBADF, path_ + ": object is closed");
  return false;
}

bool BpfObject::RequireLoaded(Napi::Env env, const char* op) {
  if (!RequireOpen(env, op)) return false;
  if (loaded_) return true;
  ThrowBpfError(env, op, EINVAL,
                path_ + (load_failed_ ? ": object failed to load" : ": object is not loaded; call load() first"));
  return false;
}

struct bpf_program* BpfObject::FindProgram(Napi::Env env, const std::string& name,
                                           const char* op) {
  struct bpf_program* prog = bpf_object__find_program_by_name(obj_, name.c_str());
  if (prog != nullptr) return prog;
  std::string names;
  bpf_object__for_each_program(prog, obj_) {
    if (!names.empty()) names += ", ";
    names += bpf_program__name(prog);
  }
  ThrowBpfError(env, op, ENOENT,
                "no program named '" + name + "' in " + path_ + " (programs: " + names + ")");
  return nullptr;
}

struct bpf_map* BpfObject::LookupMap(const std::string& name) const {
  for (const auto& [n, map] : maps_) {
    if (n == name) return map;
  }
  return nullptr;
}

struct bpf_map* BpfObject::FindMap(Napi::Env env, const char* name, const char* op) {
  struct bpf_map* map = LookupMap(name);
  if (map != nullptr) return map;
  ThrowBpfError(env, op, ENOENT, std::string("no map named '") + name + "' in " + path_);
  return nullptr;
}

uint32_t BpfObject::AddLink(struct bpf_link* link) {
  uint32_t id = next_link_id_++;
  links_[id] = link;
  return id;
}

Napi::Value BpfObject::Load(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!RequireOpen(env, "load")) return env.Undefined();
  if (loaded_) {
    ThrowBpfError(env, "load", EALREADY, path_ + ": already loaded");
    return env.Undefined();
  }
  if (load_failed_) {
    ThrowBpfError(env, "load", EINVAL,
                  path_ + ": a failed load cannot be retried on the same object; close() it and "
                          "open the file again");
    return env.Undefined();
  }
  LogCapture log;
  int rc = bpf_object__load(obj_);
  if (rc != 0) {
    int err = rc < 0 ? -rc : errno;
    std::string msg = "load " + path_ + ": " + std::strerror(err);
    if (err == EPERM) msg += " (needs CAP_BPF + CAP_PERFMON, or root)";
    std::string full = log.Log();
    std::string reason = VerifierReason(log.text());
    ThrowBpfError(env, "load", err, reason.empty() ? WithReason(msg, log) : msg + " (" + reason + ")",
                  &full);
    load_failed_ = true;  // libbpf refuses a second bpf_object__load(); only close() is left
    return env.Undefined();
  }
  loaded_ = true;
  return env.Undefined();
}

Napi::Value BpfObject::Programs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!RequireOpen(env, "open")) return env.Undefined();
  Napi::Array out = Napi::Array::New(env);
  uint32_t i = 0;
  struct bpf_program* prog;
  bpf_object__for_each_program(prog, obj_) out.Set(i++, bpf_program__name(prog));
  return out;
}

Napi::Value BpfObject::Maps(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!RequireOpen(env, "open")) return env.Undefined();
  Napi::Array out = Napi::Array::New(env);
  uint32_t i = 0;
  for (const auto& [name, map] : maps_) out.Set(i++, name);
  return out;
}

// [{ name, section, id }] — id is the kernel program id once loaded (0 before), so callers (and
// tests) can check with bpftool that nothing is left behind after close().
Napi::Value BpfObject::ProgramInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!RequireOpen(env, "open")) return env.Undefined();
  Napi::Array out = Napi::Array::New(env);
  uint32_t i = 0;
  struct bpf_program* prog;
  bpf_object__for_each_program(prog, obj_) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", bpf_program__name(prog));
    o.Set("section", bpf_program__section_name(prog));
    uint32_t id = 0;
    int fd = loaded_ ? bpf_program__fd(prog) : -1;
    if (fd >= 0) {
      struct bpf_prog_info pi;
      std::memset(&pi, 0, sizeof(pi));
      __u32 len = sizeof(pi);
      if (bpf_obj_get_info_by_fd(fd, &pi, &len) == 0) id = pi.id;
    }
    o.Set("id", Napi::Number::New(env, id));
    out.Set(i++, o);
  }
  return out;
}

Napi::Value BpfObject::AttachTracepoint(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string program, category, name;
  if (!GetString(env, info[0], "program", &program) ||
      !GetString(env, info[1], "category", &category) ||
      !GetString(env, info[2], "name", &name)) {
    return env.Undefined();
  }
  uint64_t cookie = 0;
  if (info.Length() > 3 && !info[3].IsUndefined()) {
    uint32_t c32 = 0;
    // The cookie is the hook id, a u32 key of nsguard_hooks.
    if (!GetU32(env, info[3], "cookie", &c32)) return env.Undefined();
    cookie = c32;
  }
  if (!RequireLoaded(env, "attach")) return env.Undefined();
  struct bpf_program* prog = FindProgram(env, program, "attach");
  if (prog == nullptr) return env.Undefined();

  LIBBPF_OPTS(bpf_tracepoint_opts, opts, .bpf_cookie = cookie);
  LogCapture log;
  struct bpf_link* link =
      bpf_program__attach_tracepoint_opts(prog, category.c_str(), name.c_str(), &opts);
  if (link == nullptr) {
    int err = errno;
    std::string msg = "attach " + program + " to tracepoint " + category + "/" + name + ": " +
                      std::strerror(err);
    if (err == ENOENT) {
      msg += " (no such tracepoint, or tracefs is not mounted at /sys/kernel/tracing)";
    }
    ThrowBpfError(env, "attach", err, WithReason(msg, log));
    return env.Undefined();
  }
  uint32_t id = AddLink(link);
  link_desc_[id] = program + " tracepoint " + category + "/" + name +
                   (cookie ? " cookie " + std::to_string(cookie) : "");
  return Napi::Number::New(env, id);
}

Napi::Value BpfObject::Attach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string program;
  if (!GetString(env, info[0], "program", &program)) return env.Undefined();
  if (!RequireLoaded(env, "attach")) return env.Undefined();
  struct bpf_program* prog = FindProgram(env, program, "attach");
  if (prog == nullptr) return env.Undefined();
  LogCapture log;
  struct bpf_link* link = bpf_program__attach(prog);
  if (link == nullptr) {
    int err = errno;
    std::string msg = "attach " + program + " (SEC(\"" + bpf_program__section_name(prog) +
                      "\")): " + std::strerror(err);
    if (err == EOPNOTSUPP) {
      msg += "; its section names no attach target, attach it with attachTracepoint()";
    }
    ThrowBpfError(env, "attach", err, WithReason(msg, log));
    return env.Undefined();
  }
  uint32_t id = AddLink(link);
  link_desc_[id] = program + " " + bpf_program__section_name(prog);
  return Napi::Number::New(env, id);
}

Napi::Value BpfObject::Detach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t id = 0;
  if (!GetU32(env, info[0], "linkId", &id)) return env.Undefined();
  auto it = links_.find(id);
  if (it == links_.end()) return Napi::Boolean::New(env, false);  // idempotent
  int rc = bpf_link__destroy(it->second);
  links_.erase(it);
  link_desc_.erase(id);
  if (rc != 0) {
    int err = rc < 0 ? -rc : errno;
    ThrowBpfError(env, "detach", err, "detach link " + std::to_string(id) + ": " +
                                          std::strerror(err));
    return env.Undefined();
  }
  return Napi::Boolean::New(env, true);
}

Napi::Value BpfObject::Links(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env);
  uint32_t i = 0;
  for (const auto& [id, desc] : link_desc_) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("id", Napi::Number::New(env, id));
    o.Set("target", desc);
    out.Set(i++, o);
  }
  return out;
}

Napi::Value BpfObject::Close(const Napi::CallbackInfo& info) {
  // Stops a running stream first (rather than refusing): close() must always be able to release
  // the kernel objects, e.g. from a finally block.
  std::vector<EventStream*> streams(streams_.begin(), streams_.end());
  for (EventStream* s : streams) s->StopNative(true);
  CloseNative();
  return info.Env().Undefined();
}

Napi::Value BpfObject::GetState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("path", path_);
  o.Set("loaded", Napi::Boolean::New(env, loaded_));
  o.Set("closed", Napi::Boolean::New(env, closed_));
  o.Set("streaming", Napi::Boolean::New(env, !streams_.empty()));
  Napi::Array shared = Napi::Array::New(env);
  uint32_t i = 0;
  size_t start = 0;
  while (start < shared_maps_.size()) {
    size_t end = shared_maps_.find(',', start);
    if (end == std::string::npos) end = shared_maps_.size();
    shared.Set(i++, shared_maps_.substr(start, end - start));
    start = end + 1;
  }
  o.Set("sharedMaps", shared);
  return o;
}

namespace {

// A Uint8Array argument of a raw map update: the exact size the map was created with.
bool GetMapBytes(Napi::Env env, const Napi::Value& v, const std::string& what, size_t expected,
                 const std::string& map_name, Napi::Uint8Array* out) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    ThrowTypeError(env, what + " must be a Uint8Array");
    return false;
  }
  *out = v.As<Napi::Uint8Array>();
  if (out->ByteLength() != expected) {
    ThrowBpfError(env, "map_update", EINVAL,
                  what + " of map " + map_name + " is " + std::to_string(out->ByteLength()) +
                      " bytes; the map's is " + std::to_string(expected));
    return false;
  }
  return true;
}

}  // namespace

// The map's element of (mapName, key, value?): checks it exists and that key (and value) have the
// map's sizes. Per-CPU maps take one value per CPU, which a single value cannot be: refused.
struct bpf_map* BpfObject::RawMapElem(const Napi::CallbackInfo& info, bool with_value, std::string* name,
                                      Napi::Uint8Array* key, Napi::Uint8Array* value) {
  Napi::Env env = info.Env();
  if (!GetString(env, info[0], "mapName", name)) return nullptr;
  if (!RequireLoaded(env, "map_update")) return nullptr;
  struct bpf_map* map = FindMap(env, name->c_str(), "map_update");
  if (map == nullptr) return nullptr;
  switch (bpf_map__type(map)) {
    case BPF_MAP_TYPE_PERCPU_ARRAY:
    case BPF_MAP_TYPE_PERCPU_HASH:
    case BPF_MAP_TYPE_LRU_PERCPU_HASH:
      ThrowBpfError(env, "map_update", EINVAL, "map " + *name + " is per-CPU: no single value to write");
      return nullptr;
    default:
      break;
  }
  if (!GetMapBytes(env, info[1], "key", bpf_map__key_size(map), *name, key)) return nullptr;
  if (with_value && !GetMapBytes(env, info[2], "value", bpf_map__value_size(map), *name, value)) {
    return nullptr;
  }
  return map;
}

// (mapName, key, value): bpf_map_update_elem(BPF_ANY) with the raw bytes of a key and a value,
// encoded by the caller from the header's layouts (@nsguard/kernel-contract encodeStruct).
Napi::Value BpfObject::UpdateMapElem(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name;
  Napi::Uint8Array key, value;
  struct bpf_map* map = RawMapElem(info, true, &name, &key, &value);
  if (map == nullptr) return env.Undefined();
  if (bpf_map_update_elem(bpf_map__fd(map), key.Data(), value.Data(), BPF_ANY) != 0) {
    int err = errno;
    std::string msg = "update " + name + ": " + std::strerror(err);
    if (err == E2BIG) msg += " (the map is full)";
    ThrowBpfError(env, "map_update", err, msg);
  }
  return env.Undefined();
}

// (mapName, key, value) → false when the key was already there: bpf_map_update_elem(BPF_NOEXIST),
// so an element the BPF programs wrote in the meantime is kept.
Napi::Value BpfObject::InsertMapElem(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name;
  Napi::Uint8Array key, value;
  struct bpf_map* map = RawMapElem(info, true, &name, &key, &value);
  if (map == nullptr) return env.Undefined();
  if (bpf_map_update_elem(bpf_map__fd(map), key.Data(), value.Data(), BPF_NOEXIST) != 0) {
    int err = errno;
    if (err == EEXIST) return Napi::Boolean::New(env, false);
    std::string msg = "insert into " + name + ": " + std::strerror(err);
    if (err == E2BIG) msg += " (the map is full)";
    ThrowBpfError(env, "map_update", err, msg);
    return env.Undefined();
  }
  return Napi::Boolean::New(env, true);
}

// (mapName, key) → true when the element was there, false when it was not.
Napi::Value BpfObject::DeleteMapElem(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name;
  Napi::Uint8Array key;
  struct bpf_map* map = RawMapElem(info, false, &name, &key, nullptr);
  if (map == nullptr) return env.Undefined();
  if (bpf_map_delete_elem(bpf_map__fd(map), key.Data()) != 0) {
    int err = errno;
    if (err == ENOENT) return Napi::Boolean::New(env, false);
    ThrowBpfError(env, "map_update", err, "delete from " + name + ": " + std::strerror(err));
    return env.Undefined();
  }
  return Napi::Boolean::New(env, true);
}

Napi::Value BpfObject::ReadCounters(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!RequireLoaded(env, "map_lookup")) return env.Undefined();
  struct bpf_map* map = FindMap(env, kCountersMap, "map_lookup");
  if (map == nullptr) return env.Undefined();
  uint64_t sums[NSGUARD_CNT_MAX] = {};
  int rc = SumPercpuCounters(bpf_map__fd(map), sums, NSGUARD_CNT_MAX);
  if (rc != 0) {
    ThrowBpfError(env, "map_lookup", -rc,
                  std::string("read ") + kCountersMap + ": " + std::strerror(-rc));
    return env.Undefined();
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("events", Napi::BigInt::New(env, sums[NSGUARD_CNT_EVENTS]));
  o.Set("ringbufFull", Napi::BigInt::New(env, sums[NSGUARD_CNT_RINGBUF_FULL]));
  o.Set("procTableFull", Napi::BigInt::New(env, sums[NSGUARD_CNT_PROC_TABLE_FULL]));
  o.Set("sigkill", Napi::BigInt::New(env, sums[NSGUARD_CNT_SIGKILL]));
  o.Set("sigkillErr", Napi::BigInt::New(env, sums[NSGUARD_CNT_SIGKILL_ERR]));
  o.Set("filtered", Napi::BigInt::New(env, sums[NSGUARD_CNT_FILTERED]));
  o.Set("throttled", Napi::BigInt::New(env, sums[NSGUARD_CNT_THROTTLED]));
  o.Set("rateLimited", Napi::BigInt::New(env, sums[NSGUARD_CNT_RATE_LIMITED]));
  return o;
}

// Every entry of nsguard_sources (flood-resistance accounting). The kernel may add or evict
// entries during the walk: an entry evicted between get_next_key and lookup is skipped, and as the
// kernel restarts a walk whose key vanished, keys already reported are not reported again.
Napi::Value BpfObject::ReadSources(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!RequireLoaded(env, "map_lookup")) return env.Undefined();
  struct bpf_map* map = FindMap(env, kSourcesMap, "map_lookup");
  if (map == nullptr) return env.Undefined();
  const int fd = bpf_map__fd(map);
  Napi::Array out = Napi::Array::New(env);
  uint32_t i = 0;
  struct nsguard_source_key key = {}, next = {};
  const void* prev = nullptr;  // null: start from the first key
  std::set<std::pair<uint64_t, uint32_t>> seen;
  while (bpf_map_get_next_key(fd, prev, &next) == 0) {
    struct nsguard_source value;
    key = next;
    prev = &key;
    if (!seen.insert({key.cgroup_id, key.pid}).second) continue;
    if (bpf_map_lookup_elem(fd, &key, &value) != 0) {
      if (errno == ENOENT) continue;
      int err = errno;
      ThrowBpfError(env, "map_lookup", err,
                    std::string("read ") + kSourcesMap + ": " + std::strerror(err));
      return env.Undefined();
    }
    out.Set(i++, SourceToJs(env, key, value));
  }
  if (errno != ENOENT) {
    int err = errno;
    ThrowBpfError(env, "map_lookup", err,
                  std::string("walk ") + kSourcesMap + ": " + std::strerror(err));
    return env.Undefined();
  }
  return out;
}

// () → bigint: the OR of follow_bits over the kernel's process table (nsguard_procs), read-only.
// A followChildren bit still carried by a live process must not be given to another filter:
// that process would match it without descending from the filter's binary.
Napi::Value BpfObject::ReadProcsFollowBits(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!RequireLoaded(env, "map_lookup")) return env.Undefined();
  struct bpf_map* map = FindMap(env, kProcsMap, "map_lookup");
  if (map == nullptr) return env.Undefined();
  const int fd = bpf_map__fd(map);
  uint64_t bits = 0;
  uint32_t key = 0, next = 0;
  const void* prev = nullptr;  // null: start from the first key
  while (bpf_map_get_next_key(fd, prev, &next) == 0) {
    struct nsguard_proc value;
    key = next;
    prev = &key;
    if (bpf_map_lookup_elem(fd, &key, &value) != 0) {
      if (errno == ENOENT) continue;  // exited during the walk
      int err = errno;
      ThrowBpfError(env, "map_lookup", err, std::string("read ") + kProcsMap + ": " + std::strerror(err));
      return env.Undefined();
    }
    bits |= value.follow_bits;
  }
  if (errno != ENOENT) {
    int err = errno;
    ThrowBpfError(env, "map_lookup", err, std::string("walk ") + kProcsMap + ": " + std::strerror(err));
    return env.Undefined();
  }
  return Napi::BigInt::New(env, bits);
}

// (onBatch, pollMs, maxBatch) → EventStream on the ring buffer map nsguard_events.
Napi::Value BpfObject::OpenEventStream(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsFunction()) {
    ThrowTypeError(env, "onBatch must be a function");
    return env.Undefined();
  }
  uint32_t poll_ms = 10, max_batch = 4096;
  if (info.Length() > 1 && !info[1].IsUndefined() &&
      !GetU32(env, info[1], "pollMs", &poll_ms)) {
    return env.Undefined();
  }
  if (info.Length() > 2 && !info[2].IsUndefined() &&
      !GetU32(env, info[2], "maxBatch", &max_batch)) {
    return env.Undefined();
  }
  if (poll_ms < 1 || poll_ms > 60000) {
    ThrowRangeError(env, "pollMs must be from 1 to 60000");
    return env.Undefined();
  }
  if (max_batch < 1 || max_batch > 1000000) {
    ThrowRangeError(env, "maxBatch must be from 1 to 1000000");
    return env.Undefined();
  }
  if (!RequireLoaded(env, "ringbuf")) return env.Undefined();
  if (!streams_.empty()) {
    ThrowBpfError(env, "ringbuf", EBUSY,
                  path_ + ": an event stream is already running on this object; stop it first");
    return env.Undefined();
  }
  struct bpf_map* map = FindMap(env, kEventsMap, "ringbuf");
  if (map == nullptr) return env.Undefined();
  if (bpf_map__type(map) != BPF_MAP_TYPE_RINGBUF) {
    ThrowBpfError(env, "ringbuf", EINVAL,
                  std::string("map ") + kEventsMap + " in " + path_ + " is not a ring buffer");
    return env.Undefined();
  }
  Napi::Object js = state_->event_stream_ctor.New(
      {Napi::External<void>::New(env, EventStream::ConstructToken(state_.get()))});
  if (env.IsExceptionPending()) return env.Undefined();
  EventStream* stream = EventStream::Unwrap(js);
  if (stream == nullptr) return env.Undefined();
  if (!stream->Start(env, this, Value(), bpf_map__fd(map), info[0].As<Napi::Function>(), poll_ms,
                     max_batch)) {
    return env.Undefined();
  }
  streams_.insert(stream);
  return js;
}

}  // namespace nsguard
