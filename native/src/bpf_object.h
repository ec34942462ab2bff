// SPDX-License-Identifier: Apache-2.0
// BpfObject: one libbpf bpf_object (an ELF .bpf.o) with its links, its maps and at most one
// ring-buffer event stream. JS-visible as the raw class behind ts/bpf-object.ts.
#ifndef NSGUARD_NATIVE_SRC_BPF_OBJECT_H_
#define NSGUARD_NATIVE_SRC_BPF_OBJECT_H_

#include <napi.h>

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "addon_state.h"

struct bpf_object;
struct bpf_program;
struct bpf_map;
struct bpf_link;

namespace nsguard {

class EventStream;

class BpfObject : public Napi::ObjectWrap<BpfObject> {
 public:
  static Napi::Function Init(Napi::Env env);

  // new BpfObject(path, shareMapsWith?) — opens the ELF (bpf_object__open_file). With
  // shareMapsWith (a loaded BpfObject), every non-internal map whose name also exists there is
  // bpf_map__reuse_fd'd, so both objects share one ring buffer / process table / counters.
  explicit BpfObject(const Napi::CallbackInfo& info);
  ~BpfObject() override;

  // Stops this object's stream, destroys every link, then closes the bpf_object. Idempotent.
  // Touches no JS, so it is safe from the env cleanup hook and from the GC finalizer.
  void CloseNative();

  // Called by EventStream when it stops (from any stop path).
  void ForgetStream(EventStream* stream) { streams_.erase(stream); }

  const std::string& path() const { return path_; }

  // A map by its ELF name, null when absent (EventStream finds nsguard_reader_state with it).
  struct bpf_map* MapByName(const std::string& name) const { return LookupMap(name); }

 private:
  Napi::Value Load(const Napi::CallbackInfo& info);
  Napi::Value Programs(const Napi::CallbackInfo& info);
  Napi::Value Maps(const Napi::CallbackInfo& info);
  Napi::Value ProgramInfo(const Napi::CallbackInfo& info);
  Napi::Value AttachTracepoint(const Napi::CallbackInfo& info);
  Napi::Value Attach(const Napi::CallbackInfo& info);
  Napi::Value Detach(const Napi::CallbackInfo& info);
  Napi::Value Links(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value UpdateMapElem(const Napi::CallbackInfo& info);
  Napi::Value InsertMapElem(const Napi::CallbackInfo& info);
  Napi::Value DeleteMapElem(const Napi::CallbackInfo& info);
  Napi::Value ReadCounters(const Napi::CallbackInfo& info);
  Napi::Value ReadSources(const Napi::CallbackInfo& info);
  Napi::Value ReadProcsFollowBits(const Napi::CallbackInfo& info);
  Napi::Value OpenEventStream(const Napi::CallbackInfo& info);
  Napi::Value GetState(const Napi::CallbackInfo& info);

  // Guards: throw BpfError(op) and return false when the object is closed / not loaded.
  bool RequireOpen(Napi::Env env, const char* op);
  bool RequireLoaded(Napi::Env env, const char* op);
  // Program / map lookup by name, throwing BpfError(op, ENOENT) with the available names.
  struct bpf_program* FindProgram(Napi::Env env, const std::string& name, const char* op);
  struct bpf_map* FindMap(Napi::Env env, const char* name, const char* op);
  // Same without throwing; null when absent.
  struct bpf_map* LookupMap(const std::string& name) const;
  uint32_t AddLink(struct bpf_link* link);
  // Arguments of __updateMapElem / __deleteMapElem, checked against the map; null when refused
  // (exception pending).
  struct bpf_map* RawMapElem(const Napi::CallbackInfo& info, bool with_value, std::string* name,
                             Napi::Uint8Array* key, Napi::Uint8Array* value);

  std::shared_ptr<AddonState> state_;
  struct bpf_object* obj_ = nullptr;
  std::string path_;
  bool loaded_ = false;
  bool load_failed_ = false;  // libbpf 1.1 marks an object loaded even when loading failed
  bool closed_ = false;
  std::map<uint32_t, struct bpf_link*> links_;
  std::map<uint32_t, std::string> link_desc_;  // "nsguard_sys_enter → tracepoint syscalls/..."
  uint32_t next_link_id_ = 1;
  std::set<EventStream*> streams_;
  // Maps by their names in the ELF, recorded at open. libbpf 1.1's bpf_map__reuse_fd() renames a
  // reused map to the kernel's name, which is cut to 15 chars (BPF_OBJ_NAME_LEN), so
  // "nsguard_counters" would become "nsguard_counter" and bpf_object__find_map_by_name() would
  // miss it on the sharing object.
  std::vector<std::pair<std::string, struct bpf_map*>> maps_;
  std::string shared_maps_;  // names reused from shareMapsWith, for error messages
};

}  // namespace nsguard

#endif  // NSGUARD_NATIVE_SRC_BPF_OBJECT_H_
