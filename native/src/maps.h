// SPDX-License-Identifier: Apache-2.0
// Map values of bpf/include/nsguard_events.h the addon reads (throttle sources, counters).
#ifndef NSGUARD_NATIVE_SRC_MAPS_H_
#define NSGUARD_NATIVE_SRC_MAPS_H_

#include <napi.h>

#include <cstdint>
#include <string>

#include "header.h"

namespace nsguard {

// Flood-resistance limits of the header (NSGUARD_RINGBUF_BYTES, NSGUARD_THROTTLE_*), for JS.
Napi::Object MakeThrottleConstants(Napi::Env env);

// One nsguard_sources entry → the Source object of ts/bindings.ts.
Napi::Object SourceToJs(Napi::Env env, const struct nsguard_source_key& key,
                        const struct nsguard_source& src);

// Sums a PERCPU_ARRAY of u64 over the possible CPUs for indices [0, n). 0 or -errno.
int SumPercpuCounters(int map_fd, uint64_t* sums, uint32_t n);

}  // namespace nsguard

#endif  // NSGUARD_NATIVE_SRC_MAPS_H_
