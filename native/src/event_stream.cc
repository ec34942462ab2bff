// SPDX-License-Identifier: Apache-2.0
#include "event_stream.h"

#include <bpf/libbpf.h>
#include <signal.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "bpf_object.h"
#include "decode.h"
#include "errors.h"

namespace nsguard {

namespace {

// A batch is also flushed once it holds this many bytes, so a burst of 1.8 KiB exec records
// cannot make one batch (and, with the queue bound, the backlog) arbitrarily large.
constexpr size_t kMaxBatchBytes = 1 << 20;
// Batches handed to JS and not yet processed. Past this the reader keeps filling its current batch
// and then leaves records in the kernel ring buffer — the bounded queue between the kernel and JS,
// whose overflow the kernel counts (NSGUARD_CNT_RINGBUF_FULL). Handing JS many small batches
// instead only adds per-call overhead while it is behind, and dropping in user space would throw
// away records already paid for.
constexpr uint32_t kMaxInFlight = 2;
// TSFN queue bound: never reached (kMaxInFlight is smaller), so NonBlockingCall cannot fail for it.
constexpr size_t kMaxQueuedBatches = 8;
// OnSample's way to stop ring_buffer__consume() once the current batch is full and JS is behind.
constexpr int kPause = -EBUSY;

void CallJs(Napi::Env env, Napi::Function callback, StreamCore* core, Batch* batch);

}  // namespace

using Tsfn = Napi::TypedThreadSafeFunction<StreamCore, Batch, CallJs>;

// State shared by the JS object, the reader thread and the TSFN. Owned through shared_ptr: the
// TSFN finalizer holds a reference, so CallJs never sees a dangling context even when a queued
// batch is dispatched after the EventStream object is gone.
struct StreamCore {
  // Reader thread stop request (also signalled through event_fd).
  std::atomic<bool> stop_requested{false};
  // Set once stop() began: CallJs drops batches instead of calling JS.
  std::atomic<bool> closed{false};

  std::atomic<uint64_t> records{0};          // well-formed records read from the ring buffer
  std::atomic<uint64_t> batches{0};          // batches handed to the TSFN
  std::atomic<uint64_t> malformed{0};        // short / unknown records (skipped)
  // Records that never reached JS: refused by the full TSFN queue, or discarded by stop().
  std::atomic<uint64_t> dropped_events{0};
  std::atomic<uint64_t> dropped_batches{0};
  std::atomic<uint64_t> errors{0};           // poll/consume failures (other than EINTR)
  std::atomic<uint32_t> in_flight{0};        // batches handed to JS, not yet processed

  uint32_t poll_ms = 10;
  uint32_t max_batch = 4096;

  struct ring_buffer* rb = nullptr;
  int event_fd = -1;
  Tsfn tsfn;
  std::thread thread;

  // Reader-thread only.
  std::unique_ptr<Batch> cur;

  void NewBatch() {
    cur.reset(new Batch());
    cur->offsets.reserve(max_batch < 256 ? max_batch : 256);
    cur->lengths.reserve(max_batch < 256 ? max_batch : 256);
  }

  // Hands the current batch to JS unless JS is kMaxInFlight batches behind; false = kept.
  bool Flush() {
    if (!cur || cur->offsets.empty()) return true;
    if (in_flight.load(std::memory_order_acquire) >= kMaxInFlight) return false;
    Batch* b = cur.get();
    in_flight.fetch_add(1, std::memory_order_acq_rel);
    if (tsfn.NonBlockingCall(b) != napi_ok) {  // only while the TSFN is being torn down
      in_flight.fetch_sub(1, std::memory_order_acq_rel);
      return false;
    }
    cur.release();
    batches.fetch_add(1, std::memory_order_relaxed);
    NewBatch();
    return true;
  }

  bool BatchFull() const {
    return cur->offsets.size() >= max_batch || cur->bytes.size() >= kMaxBatchBytes;
  }

  static int OnSample(void* ctx, void* data, size_t size) {
    auto* self = static_cast<StreamCore*>(ctx);
    const size_t len = ValidateRecord(data, size);
    if (len == 0) {
      self->malformed.fetch_add(1, std::memory_order_relaxed);
      return 0;  // skip it, keep consuming
    }
    Batch* b = self->cur.get();
    const size_t off = (b->bytes.size() + 7) & ~static_cast<size_t>(7);
    b->bytes.resize(off + len);
    std::memcpy(b->bytes.data() + off, data, len);
    b->offsets.push_back(static_cast<uint32_t>(off));
    b->lengths.push_back(static_cast<uint32_t>(len));
    self->records.fetch_add(1, std::memory_order_relaxed);
    // libbpf has already consumed this record when we return, so it is copied first; the ones
    // after it stay in the ring until JS catches up.
    if (self->BatchFull() && !self->Flush()) return kPause;
    return 0;
  }

  // The BPF side never wakes us (BPF_RB_NO_WAKEUP, see bpf/lib/maps.bpf.h), so the reader drains
  // the ring every poll_ms: that bounds latency and makes batches of poll_ms' worth of records.
  // Waiting on the ring's epoll fd as well would only add wake-ups the kernel never sends. The
  // eventfd ends the wait at once on stop().
  void Run() {
    // Signals belong to Node's main thread, not to us (no EINTR storms, no stolen SIGCHLD).
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);
    NewBatch();
    bool paused = false;
    while (!stop_requested.load(std::memory_order_acquire)) {
      int n = WaitForStop();
      if (stop_requested.load(std::memory_order_acquire)) break;
      if (n < 0 && errno != EINTR) errors.fetch_add(1, std::memory_order_relaxed);
      paused = !Flush();
      if (paused) continue;
      int r = ring_buffer__consume(rb);
      if (r < 0 && r != -EINTR && r != kPause) errors.fetch_add(1, std::memory_order_relaxed);
      paused = !Flush() || r == kPause;
    }
    // Records read after stop() began are discarded (no callbacks after stop), but counted.
    if (cur) dropped_events.fetch_add(cur->offsets.size(), std::memory_order_relaxed);
    cur.reset();
  }

  int WaitForStop() {
    struct pollfd pfd = {event_fd, POLLIN, 0};
    return poll(&pfd, 1, static_cast<int>(poll_ms));
  }

  // Frees what the reader used. Only after the thread was joined.
  void FreeNative() {
    if (rb != nullptr) ring_buffer__free(rb);
    rb = nullptr;
    if (event_fd >= 0) close(event_fd);
    event_fd = -1;
  }
};

namespace {

void CallJs(Napi::Env env, Napi::Function callback, StreamCore* core, Batch* batch) {
  std::unique_ptr<Batch> owned(batch);
  // env is null when the TSFN is being torn down with batches still queued: just free them.
  if (core == nullptr || batch == nullptr) return;
  core->in_flight.fetch_sub(1, std::memory_order_acq_rel);
  const size_t n = batch->offsets.size();
  // Queued when stop() began, or freed at teardown: dropped, and counted as such, so that
  // delivered + droppedEvents == records once a stopped stream has drained.
  if (static_cast<napi_env>(env) == nullptr || core->closed.load(std::memory_order_acquire) ||
      callback.IsEmpty()) {
    core->dropped_events.fetch_add(n, std::memory_order_relaxed);
    core->dropped_batches.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  Napi::Array events = Napi::Array::New(env, n);
  const DecodeNames names = GetDecodeNames(env);
  for (size_t i = 0; i < n; i++) {
    events.Set(static_cast<uint32_t>(i),
               DecodeRecord(env, names, batch->bytes.data() + batch->offsets[i], batch->lengths[i]));
  }
  // The TS façade wraps the user's callback, so an exception here is a bug in the façade; it is
  // left pending for napi to report.
  callback.Call({events});
}

void FinalizeCore(Napi::Env, std::shared_ptr<StreamCore>* holder, StreamCore*) { delete holder; }

}  // namespace

Napi::Function EventStream::Init(Napi::Env env) {
  return DefineClass(env, "EventStream",
                     {
                         InstanceMethod<&EventStream::Stop>("stop"),
                         InstanceMethod<&EventStream::RefJs>("ref"),
                         InstanceMethod<&EventStream::UnrefJs>("unref"),
                         InstanceMethod<&EventStream::Stats>("stats"),
                     });
}

EventStream::EventStream(const Napi::CallbackInfo& info) : Napi::ObjectWrap<EventStream>(info) {
  Napi::Env env = info.Env();
  state_ = AddonState::Get(env);
  if (!state_ || info.Length() != 1 || !info[0].IsExternal() ||
      info[0].As<Napi::External<void>>().Data() != ConstructToken(state_.get())) {
    ThrowTypeError(env, "EventStream cannot be constructed directly; use "
                        "BpfObject.openEventStream()");
    return;
  }
  state_->streams.insert(this);
}

EventStream::~EventStream() {
  StopNative(false);
  if (state_) state_->streams.erase(this);
}

bool EventStream::Start(Napi::Env env, BpfObject* owner, Napi::Object owner_js, int map_fd,
                        Napi::Function on_batch, uint32_t poll_ms, uint32_t max_batch) {
  auto core = std::make_shared<StreamCore>();
  core->poll_ms = poll_ms;
  core->max_batch = max_batch;

  LogCapture log;
  core->rb = ring_buffer__new(map_fd, &StreamCore::OnSample, core.get(), nullptr);
  if (core->rb == nullptr) {
    int err = errno;
    ThrowBpfError(env, "ringbuf", err,
                  "ring_buffer__new on " + owner->path() + ": " + std::strerror(err) +
                      (log.LastLine().empty() ? "" : " (" + log.LastLine() + ")"));
    return false;
  }
  core->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (core->event_fd < 0) {
    int err = errno;
    core->FreeNative();
    ThrowBpfError(env, "ringbuf", err, std::string("eventfd: ") + std::strerror(err));
    return false;
  }

  auto* holder = new std::shared_ptr<StreamCore>(core);
  core->tsfn = Tsfn::New(env, on_batch, "nsguard:ringbuf", kMaxQueuedBatches, 1, core.get(),
                         FinalizeCore, holder);
  if (env.IsExceptionPending()) {
    delete holder;
    core->FreeNative();
    return false;
  }

  core_ = core;
  owner_ = owner;
  owner_ref_ = Napi::Persistent(owner_js);  // strong: the owner lives while we run
  Ref();                                    // and so do we, even if JS drops its handle
  running_ = true;
  refed_ = true;
  core->thread = std::thread([c = core.get()] { c->Run(); });
  return true;
}

void EventStream::StopNative(bool release_js_refs) {
  if (!running_) return;
  running_ = false;
  StreamCore* c = core_.get();
  c->closed.store(true, std::memory_order_release);
  c->stop_requested.store(true, std::memory_order_release);
  uint64_t one = 1;
  ssize_t w = write(c->event_fd, &one, sizeof(one));
  (void)w;  // the flag alone also stops the reader within poll_ms
  if (c->thread.joinable()) c->thread.join();
  c->FreeNative();
  // Queued batches still get dispatched (or freed with env == null); `closed` makes them no-ops.
  c->tsfn.Release();
  if (owner_ != nullptr) owner_->ForgetStream(this);
  owner_ = nullptr;
  if (release_js_refs) {
    owner_ref_.Reset();
    Unref();
  }
}

Napi::Value EventStream::Stop(const Napi::CallbackInfo& info) {
  StopNative(true);
  return info.Env().Undefined();
}

Napi::Value EventStream::RefJs(const Napi::CallbackInfo& info) {
  if (running_ && !refed_) {
    core_->tsfn.Ref(info.Env());
    refed_ = true;
  }
  return info.This();
}

Napi::Value EventStream::UnrefJs(const Napi::CallbackInfo& info) {
  if (running_ && refed_) {
    core_->tsfn.Unref(info.Env());
    refed_ = false;
  }
  return info.This();
}

Napi::Value EventStream::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  auto num = [&](const std::atomic<uint64_t>* v) {
    return Napi::Number::New(env, v ? static_cast<double>(v->load()) : 0.0);
  };
  StreamCore* c = core_.get();
  o.Set("records", num(c ? &c->records : nullptr));
  o.Set("batches", num(c ? &c->batches : nullptr));
  o.Set("malformed", num(c ? &c->malformed : nullptr));
  o.Set("droppedEvents", num(c ? &c->dropped_events : nullptr));
  o.Set("droppedBatches", num(c ? &c->dropped_batches : nullptr));
  o.Set("errors", num(c ? &c->errors : nullptr));
  o.Set("running", Napi::Boolean::New(env, running_));
  return o;
}

}  // namespace nsguard
