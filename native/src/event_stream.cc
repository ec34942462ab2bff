// SPDX-License-Identifier: Apache-2.0
#include "event_stream.h"

#include <bpf/bpf.h>
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
#include "header.h"

namespace nsguard {

namespace {

// A batch is also flushed once it holds this many bytes, so a burst of 1.8 KiB exec records
// cannot make one batch (and, with the queue bound, the backlog) arbitrarily large.
constexpr size_t kMaxBatchBytes = 1 << 20;
// Batches handed to JS and not yet released (RecordBatch.release()). Past this the reader keeps
// filling its current batch and then leaves records in the kernel ring buffer — the bounded queue
// between the kernel and JS, whose overflow the kernel counts (NSGUARD_CNT_RINGBUF_FULL). Handing
// JS many small batches instead only adds per-call overhead while it is behind, and dropping in
// user space would throw away records already paid for. A batch JS never releases keeps counting
// here (its memory is freed by GC, its slot is not): the reader stays paused until it is released.
constexpr uint32_t kMaxInFlight = 2;
// Longest sleep of an idle reader. The BPF side wakes it on the first record (reader-state map),
// so this only bounds how often an idle reader re-arms; it costs no latency.
constexpr int kSleepMs = 1000;
// Map nsguard_reader_state (bpf/lib/maps.bpf.h): how the reader tells BPF it sleeps.
constexpr const char* kReaderStateMap = "nsguard_reader_state";
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
  std::atomic<uint64_t> errors{0};           // poll/consume/map-update failures (other than EINTR)
  std::atomic<uint64_t> sleeps{0};           // times the reader found the ring empty and slept
  std::atomic<uint64_t> wakeups{0};          // sleeps ended by the ring becoming readable
  std::atomic<uint32_t> in_flight{0};        // batches handed to JS, not yet released
  // The reader is waiting for a release (kMaxInFlight reached): ReleaseBatch() then wakes it.
  std::atomic<bool> paused{false};

  uint32_t poll_ms = 10;
  uint32_t max_batch = 4096;

  struct ring_buffer* rb = nullptr;
  int ring_fd = -1;          // the ring buffer map (owned by the BpfObject, which outlives us)
  int reader_state_fd = -1;  // map nsguard_reader_state, -1 when the object has none
  int event_fd = -1;         // stop() and ReleaseBatch() wake the reader through it
  Tsfn tsfn;
  std::thread thread;

  // Reader-thread only.
  std::unique_ptr<Batch> cur;

  // Size of the last batch handed over: the next one is reserved a little above it, so a busy
  // reader appends records without the vector reallocating (and copying) a dozen times per batch.
  size_t last_batch_bytes = 0;
  size_t last_batch_records = 0;

  void NewBatch() {
    cur.reset(new Batch());
    const size_t records = last_batch_records + last_batch_records / 4 + 16;
    cur->offsets.reserve(records < max_batch ? records : max_batch);
    const size_t bytes = last_batch_bytes + last_batch_bytes / 4 + 4096;
    cur->bytes.reserve(bytes < kMaxBatchBytes + 4096 ? bytes : kMaxBatchBytes + 4096);
  }

  // Hands the current batch to JS unless JS holds kMaxInFlight unreleased batches; false = kept.
  bool Flush() {
    if (!cur || cur->offsets.empty()) return true;
    last_batch_bytes = cur->bytes.size();
    last_batch_records = cur->offsets.size();
    if (in_flight.load(std::memory_order_acquire) >= kMaxInFlight) return false;
    Batch* b = cur.get();
    b->Seal();
    in_flight.fetch_add(1, std::memory_order_acq_rel);
    if (tsfn.NonBlockingCall(b) != napi_ok) {  // only while the TSFN is being torn down
      in_flight.fetch_sub(1, std::memory_order_acq_rel);
      cur->bytes.resize(cur->bytes.size() - cur->count() * sizeof(uint32_t));  // unseal
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
    if (!self->cur->Append(data, size)) {
      self->malformed.fetch_add(1, std::memory_order_relaxed);
      return 0;  // skip it, keep consuming
    }
    self->records.fetch_add(1, std::memory_order_relaxed);
    // libbpf has already consumed this record when we return, so it is copied first; the ones
    // after it stay in the ring until JS catches up.
    if (self->BatchFull() && !self->Flush()) return kPause;
    return 0;
  }

  // Two modes. Busy: the BPF side does not wake us (BPF_RB_NO_WAKEUP, bpf/lib/maps.bpf.h), so
  // the reader drains the ring every poll_ms — that bounds latency, makes batches of poll_ms'
  // worth of records and costs the kernel no wake-ups. Idle: when a drain finds nothing, the
  // reader says so in map nsguard_reader_state and sleeps in poll() on the ring buffer; the next
  // record's submit sees the flag, clears it and wakes us (one wake-up per idle period). Without
  // that map (an older object) the reader stays busy. The eventfd ends any wait at once.
  void Run() {
    // Signals belong to Node's main thread, not to us (no EINTR storms, no stolen SIGCHLD).
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);
    NewBatch();
    while (!stop_requested.load(std::memory_order_acquire)) {
      bool held = !Flush();  // JS holds kMaxInFlight batches: leave records in the ring
      int got = 0;
      if (!held) {
        got = Consume();
        held = !Flush() || got == kPause;
      }
      paused.store(held, std::memory_order_release);
      if (stop_requested.load(std::memory_order_acquire)) break;
      if (!held && got == 0 && reader_state_fd >= 0) {
        Sleep();
        continue;
      }
      Wait(false, static_cast<int>(poll_ms));
    }
    // Records read after stop() began are discarded (no callbacks after stop), but counted.
    if (cur) dropped_events.fetch_add(cur->count(), std::memory_order_relaxed);
    cur.reset();
  }

  // Drains the ring into the current batch: records consumed (malformed ones included), kPause
  // when the batch filled up with JS behind, 0 on other errors (counted).
  int Consume() {
    int r = ring_buffer__consume(rb);
    if (r >= 0 || r == kPause) return r;
    if (r != -EINTR) errors.fetch_add(1, std::memory_order_relaxed);
    return 0;
  }

  bool SetSleeping(uint32_t sleeping) {
    const uint32_t key = 0;
    struct nsguard_reader_state v = {};
    v.sleeping = sleeping;
    if (bpf_map_update_elem(reader_state_fd, &key, &v, BPF_ANY) == 0) return true;
    errors.fetch_add(1, std::memory_order_relaxed);
    return false;
  }

  void Sleep() {
    if (!SetSleeping(1)) {
      Wait(false, static_cast<int>(poll_ms));
      return;
    }
    // A record submitted before BPF could see the flag brought no wake-up: drain once more.
    int got = Consume();
    if (got != 0) {
      SetSleeping(0);  // busy again; spare BPF a wake-up nobody waits for
      return;          // the loop flushes what was read
    }
    sleeps.fetch_add(1, std::memory_order_relaxed);
    if (Wait(true, kSleepMs)) wakeups.fetch_add(1, std::memory_order_relaxed);
  }

  // Waits for stop()/ReleaseBatch() (the eventfd) for up to timeout_ms, and, when `ring`, for
  // the ring buffer to become readable. (Busy mode must not wait on the ring: it is readable
  // whenever a record is there, which would turn batching into one wake-up per record.)
  // True when the ring is readable.
  bool Wait(bool ring, int timeout_ms) {
    struct pollfd pfd[2] = {{event_fd, POLLIN, 0}, {ring_fd, POLLIN, 0}};
    int n = poll(pfd, ring ? 2 : 1, timeout_ms);
    if (n < 0 && errno != EINTR) errors.fetch_add(1, std::memory_order_relaxed);
    if (n > 0 && (pfd[0].revents & POLLIN)) {
      uint64_t v;
      ssize_t r = read(event_fd, &v, sizeof(v));  // re-arm (stop_requested is the stop signal)
      (void)r;
    }
    return n > 0 && ring && (pfd[1].revents & POLLIN);
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
  const size_t n = batch->count();
  // Queued when stop() began, or freed at teardown: dropped, and counted as such, so that
  // delivered + droppedEvents == records once a stopped stream has drained.
  if (static_cast<napi_env>(env) == nullptr || core->closed.load(std::memory_order_acquire) ||
      callback.IsEmpty()) {
    core->in_flight.fetch_sub(1, std::memory_order_acq_rel);
    core->dropped_events.fetch_add(n, std::memory_order_relaxed);
    core->dropped_batches.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  Napi::Value bytes = BatchToArrayBuffer(env, std::move(owned));
  if (bytes.IsEmpty()) {  // allocation failure: the exception stays pending for napi to report
    core->in_flight.fetch_sub(1, std::memory_order_acq_rel);
    core->dropped_events.fetch_add(n, std::memory_order_relaxed);
    core->dropped_batches.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  // The TS façade wraps the user's callback, so an exception here is a bug in the façade; it is
  // left pending for napi to report. The batch stays in flight until JS calls releaseBatch().
  callback.Call({bytes, Napi::Number::New(env, static_cast<double>(n))});
}

void FinalizeCore(Napi::Env, std::shared_ptr<StreamCore>* holder, StreamCore*) { delete holder; }

}  // namespace

bool Batch::Append(const void* data, size_t size) {
  const size_t len = ValidateRecord(data, size);
  if (len == 0) return false;
  const size_t off = (bytes.size() + 7) & ~static_cast<size_t>(7);
  bytes.resize(off + len);
  std::memcpy(bytes.data() + off, data, len);
  offsets.push_back(static_cast<uint32_t>(off));
  return true;
}

void Batch::Seal() {
  const size_t off = (bytes.size() + 7) & ~static_cast<size_t>(7);
  bytes.resize(off + offsets.size() * sizeof(uint32_t));
  if (!offsets.empty()) std::memcpy(bytes.data() + off, offsets.data(), offsets.size() * sizeof(uint32_t));
}

// No copy: the ArrayBuffer is the batch's own memory, freed by its finalizer once JS drops it.
// (V8 counts external backing stores towards its GC heuristics, so dropped batches get collected.)
Napi::Value BatchToArrayBuffer(Napi::Env env, std::unique_ptr<Batch> batch) {
  if (batch->bytes.empty()) return Napi::ArrayBuffer::New(env, 0);
  Batch* b = batch.release();
  // V8 only sees the ArrayBuffer's handle, not the megabyte behind it: without telling it, a busy
  // reader's batches pile up between garbage collections (hundreds of MB of RSS).
  const int64_t held = static_cast<int64_t>(b->bytes.capacity() + b->offsets.capacity() * sizeof(uint32_t));
  Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(
      env, b->bytes.data(), b->bytes.size(),
      [](Napi::Env fin_env, void*, Batch* hint) {
        const int64_t bytes =
            static_cast<int64_t>(hint->bytes.capacity() + hint->offsets.capacity() * sizeof(uint32_t));
        delete hint;
        if (static_cast<napi_env>(fin_env) != nullptr) Napi::MemoryManagement::AdjustExternalMemory(fin_env, -bytes);
      },
      b);
  if (env.IsExceptionPending()) {
    delete b;
    return Napi::Value();
  }
  Napi::MemoryManagement::AdjustExternalMemory(env, held);
  return ab;
}

Napi::Function EventStream::Init(Napi::Env env) {
  return DefineClass(env, "EventStream",
                     {
                         InstanceMethod<&EventStream::Stop>("stop"),
                         InstanceMethod<&EventStream::ReleaseBatch>("releaseBatch"),
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
  core->ring_fd = map_fd;
  // Absent from objects built before the idle protocol: such a reader just never sleeps.
  struct bpf_map* state = owner->MapByName(kReaderStateMap);
  if (state != nullptr && bpf_map__type(state) == BPF_MAP_TYPE_ARRAY &&
      bpf_map__value_size(state) == sizeof(struct nsguard_reader_state)) {
    core->reader_state_fd = bpf_map__fd(state);
  }

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

Napi::Value EventStream::ReleaseBatch(const Napi::CallbackInfo& info) {
  StreamCore* c = core_.get();
  if (c != nullptr) {
    // Never below zero: the JS RecordBatch releases once, but a bug there must not unbound us.
    uint32_t v = c->in_flight.load(std::memory_order_acquire);
    while (v > 0 && !c->in_flight.compare_exchange_weak(v, v - 1, std::memory_order_acq_rel)) {
    }
    if (running_ && c->paused.load(std::memory_order_acquire)) {
      uint64_t one = 1;
      ssize_t w = write(c->event_fd, &one, sizeof(one));  // it would also look again in poll_ms
      (void)w;
    }
  }
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
  o.Set("sleeps", num(c ? &c->sleeps : nullptr));
  o.Set("wakeups", num(c ? &c->wakeups : nullptr));
  o.Set("running", Napi::Boolean::New(env, running_));
  return o;
}

}  // namespace nsguard
