// SPDX-License-Identifier: Apache-2.0
// Ring-buffer record validation (reader thread) and decoding into the RawEvent objects of
// ts/raw-events.ts (JS thread), both from bpf/include/nsguard_events.h.
#ifndef NSGUARD_NATIVE_SRC_DECODE_H_
#define NSGUARD_NATIVE_SRC_DECODE_H_

#include <napi.h>

#include <cstddef>
#include <cstdint>

namespace nsguard {

// Checks a record as handed over by the ring buffer: big enough for the common header, a known
// op, and hdr.size within [sizeof(struct for op), sample size]. Returns the number of bytes to
// keep (hdr.size), or 0 when the record is malformed. Pure; safe on any thread.
size_t ValidateRecord(const void* data, size_t size);

// Builds the RawEvent object for a record that passed ValidateRecord. `data` need not be aligned.
Napi::Value DecodeRecord(Napi::Env env, const uint8_t* data, size_t len);

// Header constants and record sizes, exposed to JS as `constants`.
Napi::Object MakeConstants(Napi::Env env);

}  // namespace nsguard

#endif  // NSGUARD_NATIVE_SRC_DECODE_H_
