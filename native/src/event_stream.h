// SPDX-License-Identifier: Apache-2.0
// EventStream: a reader thread on one BPF ring buffer, handing batches of records to JS through a
// bounded thread-safe function. The reader never blocks on JS: when the TSFN queue is full the
// batch is dropped and counted.
#ifndef NSGUARD_NATIVE_SRC_EVENT_STREAM_H_
#define NSGUARD_NATIVE_SRC_EVENT_STREAM_H_

#include <napi.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "addon_state.h"

struct ring_buffer;

namespace nsguard {

class BpfObject;

// Records copied out of the ring buffer, back to back, each starting 8-byte aligned.
struct Batch {
  std::vector<uint8_t> bytes;
  std::vector<uint32_t> offsets;
  std::vector<uint32_t> lengths;
};

struct StreamCore;

class EventStream : public Napi::ObjectWrap<EventStream> {
 public:
  static Napi::Function Init(Napi::Env env);

  // Only BpfObject creates streams (the constructor checks a private token).
  explicit EventStream(const Napi::CallbackInfo& info);
  ~EventStream() override;

  // Creates the ring_buffer, the TSFN and the reader thread. On failure a BpfError is pending
  // and false is returned.
  bool Start(Napi::Env env, BpfObject* owner, Napi::Object owner_js, int map_fd,
             Napi::Function on_batch, uint32_t poll_ms, uint32_t max_batch);

  // Stops the reader (joins it), releases the TSFN, frees the ring buffer. Idempotent. After it
  // returns no further batch reaches JS. `release_js_refs` is false on paths that must not touch
  // JS (GC finalizer).
  void StopNative(bool release_js_refs);

  // The value behind the private-constructor check.
  static void* ConstructToken(AddonState* state) { return state; }

 private:
  Napi::Value Stop(const Napi::CallbackInfo& info);
  Napi::Value RefJs(const Napi::CallbackInfo& info);
  Napi::Value UnrefJs(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);

  std::shared_ptr<AddonState> state_;
  std::shared_ptr<StreamCore> core_;
  BpfObject* owner_ = nullptr;
  Napi::ObjectReference owner_ref_;  // keeps the BpfObject JS object alive while running
  bool running_ = false;
  bool refed_ = true;
};

}  // namespace nsguard

#endif  // NSGUARD_NATIVE_SRC_EVENT_STREAM_H_
