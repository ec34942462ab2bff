// SPDX-License-Identifier: Apache-2.0
// EventStream: a reader thread on one BPF ring buffer, handing batches of records to JS through a
// bounded thread-safe function. Each batch reaches JS as one ArrayBuffer over the batch's own
// memory (records + offsets, see Batch) that JS reads lazily (ts/record-batch.ts); no per-record
// JS objects are built here. The reader never blocks on JS: with kMaxInFlight batches handed over
// and not yet released it leaves records in the kernel ring buffer.
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

// Records copied out of the ring buffer, back to back, each starting 8-byte aligned. Seal()
// appends the records' offsets (uint32, 4-aligned) after the last record, so JS gets one buffer:
// [records…][offsets[0..count)] and reads offsets from its tail.
struct Batch {
  std::vector<uint8_t> bytes;
  std::vector<uint32_t> offsets;

  // Validates one ring-buffer sample (ValidateRecord) and copies the hdr.size bytes it keeps.
  // False when the sample is malformed (nothing copied).
  bool Append(const void* data, size_t size);
  size_t count() const { return offsets.size(); }
  // Appends the offsets after the records. The batch is read-only afterwards.
  void Seal();
};

// Hands a sealed batch to JS as an ArrayBuffer over its memory; the ArrayBuffer's finalizer
// frees the batch. On failure a JS exception is pending, the batch is freed and an empty value
// is returned.
Napi::Value BatchToArrayBuffer(Napi::Env env, std::unique_ptr<Batch> batch);

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
  // One handed-over batch is done with (RecordBatch.release()); lets the reader hand over more.
  Napi::Value ReleaseBatch(const Napi::CallbackInfo& info);
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
