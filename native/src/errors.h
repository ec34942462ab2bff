// SPDX-License-Identifier: Apache-2.0
// One JS-visible error class (BpfError, defined in ts/errors.ts and passed in at __init) plus the
// argument-check helpers. Exceptions are disabled: helpers set a pending JS exception and the caller
// returns.
#ifndef NSGUARD_NATIVE_SRC_ERRORS_H_
#define NSGUARD_NATIVE_SRC_ERRORS_H_

#include <napi.h>

#include <cstdint>
#include <string>

namespace nsguard {

// Name of an errno value ("EPERM"); kernel-internal values libbpf passes through get their kernel
// names (ENOTSUPP = 524), anything else "E<number>".
std::string ErrnoName(int err);

// Throw BpfError(message, { code, errno, op, verifierLog? }). `err` is a positive errno.
// No-op when an exception is already pending (never throw twice).
void ThrowBpfError(Napi::Env env, const char* op, int err, const std::string& message,
                   const std::string* verifier_log = nullptr);
void ThrowTypeError(Napi::Env env, const std::string& message);
void ThrowRangeError(Napi::Env env, const std::string& message);

// Collects libbpf's log lines for the duration of one operation on this thread (open, load,
// attach). libbpf_set_print() is process-wide (a libbpf API limit), so the print hook routes into
// a thread_local pointer: two environments loading on different threads never mix their logs.
// Keeps the last `cap` bytes (the verifier's complaint is at the end of its log).
class LogCapture {
 public:
  explicit LogCapture(size_t cap = 64 * 1024);
  ~LogCapture();
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  const std::string& text() const { return text_; }
  bool truncated() const { return truncated_; }
  // Last non-empty line: a short reason to append to error messages.
  std::string LastLine() const;
  // text() with a marker in front when the head was cut off.
  std::string Log() const;

  void Append(const char* data, size_t len);

 private:
  std::string text_;
  size_t cap_;
  bool truncated_ = false;
  LogCapture* prev_;
};

// Install the libbpf print hook (idempotent). Outside a LogCapture, warnings go to stderr like
// libbpf's default; debug output only with NSGUARD_LIBBPF_DEBUG=1.
void InstallLibbpfPrint();

// --- argument helpers: same wording everywhere -------------------------------------------------

// Read a uint32 from a JS number (integer, 0 ≤ v ≤ 2^32-1). On failure throws a TypeError naming
// `what` and returns false.
bool GetU32(Napi::Env env, const Napi::Value& v, const char* what, uint32_t* out);
bool GetI32(Napi::Env env, const Napi::Value& v, const char* what, int32_t* out);
// A BigInt (lossless, 0 ≤ v < 2^64) or a non-negative safe-integer number.
bool GetU64(Napi::Env env, const Napi::Value& v, const char* what, uint64_t* out);
bool GetString(Napi::Env env, const Napi::Value& v, const char* what, std::string* out);
bool GetBool(Napi::Env env, const Napi::Value& v, const char* what, bool* out);

}  // namespace nsguard

#endif  // NSGUARD_NATIVE_SRC_ERRORS_H_
