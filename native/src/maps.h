// SPDX-License-Identifier: Apache-2.0
// Encoding of JS values into the map value structs of bpf/include/nsguard_events.h.
#ifndef NSGUARD_NATIVE_SRC_MAPS_H_
#define NSGUARD_NATIVE_SRC_MAPS_H_

#include <napi.h>

#include <cstdint>
#include <string>

#include "header.h"

namespace nsguard {

// HookTable (ts/bpf-object.ts) → struct nsguard_hook. Validates every field against the header's
// limits; on failure a TypeError naming the field is pending and false is returned.
bool EncodeHookTable(Napi::Env env, const Napi::Value& v, struct nsguard_hook* out);

// SeedProcess (ts/bpf-object.ts) → key (tgid) + struct nsguard_proc. `what` prefixes messages.
bool EncodeSeedProcess(Napi::Env env, const Napi::Value& v, const std::string& what,
                       uint32_t* key, struct nsguard_proc* out);

// Flood-resistance limits of the header (NSGUARD_RINGBUF_BYTES, NSGUARD_THROTTLE_*), for JS.
Napi::Object MakeThrottleConstants(Napi::Env env);

// One nsguard_sources entry → the Source object of ts/bindings.ts.
Napi::Object SourceToJs(Napi::Env env, const struct nsguard_source_key& key,
                        const struct nsguard_source& src);

// Sums a PERCPU_ARRAY of u64 over the possible CPUs for indices [0, n). 0 or -errno.
int SumPercpuCounters(int map_fd, uint64_t* sums, uint32_t n);

}  // namespace nsguard

#endif  // NSGUARD_NATIVE_SRC_MAPS_H_
