// SPDX-License-Identifier: Apache-2.0
// Ring-buffer record validation (reader thread) and the header's constants and record layout for
// the JS decoder (ts/record-batch.ts), both from bpf/include/nsguard_events.h.
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

// Header constants, record sizes and field offsets (`layout`), exposed to JS as `constants`.
Napi::Object MakeConstants(Napi::Env env);

}  // namespace nsguard

#endif  // NSGUARD_NATIVE_SRC_DECODE_H_
