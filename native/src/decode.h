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

// Every property name and enum string the decoder writes. Decoding sets ~45 properties per
// record; naming them with strings made once per environment instead of a UTF-8 name V8 must
// intern on every Set took a syscall record from 8.7 to 6.6 us on our CI machine class.
#define NSGUARD_DECODE_NAMES(X)                                                                 \
  X(op) X(ktime) X(task) X(key) X(pid) X(tid) X(ppid) X(nspid) X(uid) X(euid) X(gid) X(auid)   \
  X(cgroupId) X(ns) X(comm) X(uts) X(ipc) X(mnt) X(pidForChildren) X(net) X(time)               \
  X(timeForChildren) X(cgroup) X(user) X(parent) X(flags) X(filename) X(args) X(cwd)            \
  X(cgroupName) X(exitCode) X(hookId) X(syscallNr) X(action) X(selector) X(fdKind) X(fdNsInum)  \
  X(signalErr) X(compat) X(exec) X(clone) X(exit) X(syscall) X(nsfs) X(pidfd) X(other) X(unknown)

// The names as JS values, valid in the handle scope they were taken in (one batch).
struct DecodeNames {
#define NSGUARD_NAME_FIELD(name) Napi::Value name;
  NSGUARD_DECODE_NAMES(NSGUARD_NAME_FIELD)
#undef NSGUARD_NAME_FIELD
};

// The names of this environment, interned on first use (kept in AddonState).
DecodeNames GetDecodeNames(Napi::Env env);

// Builds the RawEvent object for a record that passed ValidateRecord. `data` need not be aligned.
Napi::Value DecodeRecord(Napi::Env env, const DecodeNames& names, const uint8_t* data, size_t len);

// Header constants and record sizes, exposed to JS as `constants`.
Napi::Object MakeConstants(Napi::Env env);

}  // namespace nsguard

#endif  // NSGUARD_NATIVE_SRC_DECODE_H_
