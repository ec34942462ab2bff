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

// Map value layouts the addon reads. The ring-buffer records are asserted in decode.cc; the tables
// JS writes come as bytes encoded by @nsguard/kernel-contract from the generated layouts.
static_assert(sizeof(struct nsguard_reader_state) == 8, "sizeof(struct nsguard_reader_state) changed");
static_assert(offsetof(struct nsguard_reader_state, sleeping) == 0, "nsguard_reader_state.sleeping moved");
static_assert(sizeof(struct nsguard_source_key) == 16, "sizeof(struct nsguard_source_key) changed");
static_assert(sizeof(struct nsguard_source) == 64 + NSGUARD_CGROUP_NAME_LEN,
              "sizeof(struct nsguard_source) changed");
static_assert(offsetof(struct nsguard_source, cgroup_name) == 64, "nsguard_source.cgroup_name moved");
static_assert(sizeof(struct nsguard_throttle_window) == 24, "sizeof(struct nsguard_throttle_window) changed");
static_assert(NSGUARD_CNT_THROTTLED < NSGUARD_CNT_MAX, "counter indices");
static_assert(NSGUARD_THROTTLE_LOW_BYTES < NSGUARD_THROTTLE_HIGH_BYTES &&
                  NSGUARD_THROTTLE_HIGH_BYTES < NSGUARD_THROTTLE_MAX_BYTES &&
                  NSGUARD_THROTTLE_MAX_BYTES < NSGUARD_RINGBUF_BYTES,
              "throttle watermarks out of order");

namespace nsguard {

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
