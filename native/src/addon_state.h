// SPDX-License-Identifier: Apache-2.0
// Per-environment state of the addon (main thread and each worker thread get their own).
#ifndef NSGUARD_NATIVE_SRC_ADDON_STATE_H_
#define NSGUARD_NATIVE_SRC_ADDON_STATE_H_

#include <napi.h>

#include <memory>
#include <set>

namespace nsguard {

class BpfObject;
class EventStream;

// Everything the addon keeps per napi_env. There are no globals: the instance data slot holds an
// AddonHandle (a shared_ptr box), and every ObjectWrap keeps its own shared_ptr copy, so the state
// outlives whichever of {instance-data finalizer, ObjectWrap finalizers} runs last at env teardown
// (napi gives no ordering between them).
struct AddonState {
  // JS classes. Reset in Cleanup() while the env is still fully usable, so the destructor of this
  // struct never touches JS (it may run from a finalizer during teardown).
  Napi::FunctionReference bpf_error;  // the BpfError class from ts/errors.ts, passed to __init
  Napi::FunctionReference bpf_object_ctor;
  Napi::FunctionReference event_stream_ctor;

  // Live native objects, so the cleanup hook can stop reader threads and close objects when the
  // environment (or worker) goes away. Entries are removed by the objects' destructors.
  std::set<BpfObject*> objects;
  std::set<EventStream*> streams;
  bool torn_down = false;

  // env cleanup hook: stop every stream (joins reader threads), then close every object
  // (destroys links, then the bpf_object). Native resources only.
  static void Cleanup(std::shared_ptr<AddonState>* state);

  static std::shared_ptr<AddonState> Get(Napi::Env env);
};

struct AddonHandle {
  std::shared_ptr<AddonState> state;
};

}  // namespace nsguard

#endif  // NSGUARD_NATIVE_SRC_ADDON_STATE_H_
