// SPDX-License-Identifier: Apache-2.0
#include "errors.h"

#include <bpf/libbpf.h>

#include <cerrno>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "addon_state.h"

namespace nsguard {

namespace {

// The capture that libbpf output on this thread goes to (innermost LogCapture), or null.
thread_local LogCapture* t_capture = nullptr;

bool DebugEnabled() {
  const char* v = std::getenv("NSGUARD_LIBBPF_DEBUG");
  return v != nullptr && v[0] != '\0' && std::strcmp(v, "0") != 0;
}

int LibbpfPrint(enum libbpf_print_level level, const char* fmt, va_list ap) {
  const bool debug = DebugEnabled();
  if (level == LIBBPF_DEBUG && !debug) return 0;
  // A verifier log arrives as one %s argument of up to megabytes: size the buffer first.
  va_list ap2;
  va_copy(ap2, ap);
  char small[512];
  int n = std::vsnprintf(small, sizeof(small), fmt, ap);
  if (n < 0) {
    va_end(ap2);
    return 0;
  }
  const char* text = small;
  std::vector<char> big;
  if (static_cast<size_t>(n) >= sizeof(small)) {
    big.resize(static_cast<size_t>(n) + 1);
    std::vsnprintf(big.data(), big.size(), fmt, ap2);
    text = big.data();
  }
  va_end(ap2);
  if (t_capture != nullptr) {
    if (level != LIBBPF_DEBUG) t_capture->Append(text, static_cast<size_t>(n));
  } else if (level == LIBBPF_WARN) {
    std::fwrite(text, 1, static_cast<size_t>(n), stderr);
  }
  if (debug) std::fwrite(text, 1, static_cast<size_t>(n), stderr);
  return n;
}

}  // namespace

LogCapture::LogCapture(size_t cap) : cap_(cap), prev_(t_capture) { t_capture = this; }
LogCapture::~LogCapture() { t_capture = prev_; }

void LogCapture::Append(const char* data, size_t len) {
  text_.append(data, len);
  if (text_.size() > cap_) {
    // Keep the tail, starting at a line boundary when there is one close by.
    size_t cut = text_.size() - cap_;
    size_t nl = text_.find('\n', cut);
    if (nl != std::string::npos && nl - cut < 256) cut = nl + 1;
    text_.erase(0, cut);
    truncated_ = true;
  }
}

std::string LogCapture::LastLine() const {
  size_t end = text_.size();
  while (end > 0) {
    while (end > 0 && (text_[end - 1] == '\n' || text_[end - 1] == ' ')) --end;
    if (end == 0) break;
    size_t start = text_.rfind('\n', end - 1);
    start = start == std::string::npos ? 0 : start + 1;
    std::string line = text_.substr(start, end - start);
    const char* prefix = "libbpf: ";
    if (line.compare(0, std::strlen(prefix), prefix) == 0) line.erase(0, std::strlen(prefix));
    if (!line.empty()) return line;
    end = start;
  }
  return std::string();
}

std::string LogCapture::Log() const {
  if (!truncated_) return text_;
  return "[... head of log truncated ...]\n" + text_;
}

void InstallLibbpfPrint() { libbpf_set_print(LibbpfPrint); }

std::string ErrnoName(int err) {
  if (err < 0) err = -err;
  // Kernel-internal values (include/linux/errno.h) that the bpf syscall can return.
  switch (err) {
    case 512: return "ERESTARTSYS";
    case 524: return "ENOTSUPP";
    default: break;
  }
  const char* name = strerrorname_np(err);
  if (name != nullptr) return name;
  return "E" + std::to_string(err);
}

void ThrowBpfError(Napi::Env env, const char* op, int err, const std::string& message,
                   const std::string* verifier_log) {
  if (env.IsExceptionPending()) return;
  if (err < 0) err = -err;
  if (err == 0) err = EINVAL;  // never report "success" as a failure code
  Napi::Object details = Napi::Object::New(env);
  details.Set("code", ErrnoName(err));
  details.Set("errno", Napi::Number::New(env, err));
  details.Set("op", op);
  if (verifier_log != nullptr && !verifier_log->empty()) details.Set("verifierLog", *verifier_log);

  std::shared_ptr<AddonState> state = AddonState::Get(env);
  Napi::Value error;
  if (state && !state->bpf_error.IsEmpty()) {
    error = state->bpf_error.New({Napi::String::New(env, message), details});
    if (env.IsExceptionPending()) return;  // the constructor itself threw
  } else {
    // __init was not called (raw use of the binding): still carry the same fields.
    Napi::Error e = Napi::Error::New(env, message);
    Napi::Object obj = e.Value();
    for (const char* key : {"code", "errno", "op", "verifierLog"}) {
      if (details.Has(key)) obj.Set(key, details.Get(key));
    }
    error = obj;
  }
  napi_throw(env, error);
}

void ThrowTypeError(Napi::Env env, const std::string& message) {
  if (env.IsExceptionPending()) return;
  Napi::TypeError::New(env, message).ThrowAsJavaScriptException();
}

void ThrowRangeError(Napi::Env env, const std::string& message) {
  if (env.IsExceptionPending()) return;
  Napi::RangeError::New(env, message).ThrowAsJavaScriptException();
}

bool GetU32(Napi::Env env, const Napi::Value& v, const char* what, uint32_t* out) {
  if (v.IsNumber()) {
    double d = v.As<Napi::Number>().DoubleValue();
    if (std::isfinite(d) && std::floor(d) == d && d >= 0 && d <= 4294967295.0) {
      *out = static_cast<uint32_t>(d);
      return true;
    }
  }
  ThrowTypeError(env, std::string(what) + " must be an integer from 0 to 4294967295");
  return false;
}

bool GetI32(Napi::Env env, const Napi::Value& v, const char* what, int32_t* out) {
  if (v.IsNumber()) {
    double d = v.As<Napi::Number>().DoubleValue();
    if (std::isfinite(d) && std::floor(d) == d && d >= -2147483648.0 && d <= 2147483647.0) {
      *out = static_cast<int32_t>(d);
      return true;
    }
  }
  ThrowTypeError(env, std::string(what) + " must be a 32-bit signed integer");
  return false;
}

bool GetU64(Napi::Env env, const Napi::Value& v, const char* what, uint64_t* out) {
  if (v.IsBigInt()) {
    int sign = 0;
    size_t words = 1;
    uint64_t value = 0;
    // Reports the sign separately and the number of words needed, so negative and too-large
    // values are both caught.
    napi_status st = napi_get_value_bigint_words(env, v, &sign, &words, &value);
    if (st == napi_ok && sign == 0 && words <= 1) {
      *out = words == 0 ? 0 : value;
      return true;
    }
  } else if (v.IsNumber()) {
    double d = v.As<Napi::Number>().DoubleValue();
    if (std::isfinite(d) && std::floor(d) == d && d >= 0 && d <= 9007199254740991.0) {
      *out = static_cast<uint64_t>(d);
      return true;
    }
  }
  ThrowTypeError(env, std::string(what) + " must be a bigint from 0n to 2n**64n-1n");
  return false;
}

bool GetString(Napi::Env env, const Napi::Value& v, const char* what, std::string* out) {
  if (v.IsString()) {
    *out = v.As<Napi::String>().Utf8Value();
    return true;
  }
  ThrowTypeError(env, std::string(what) + " must be a string");
  return false;
}

bool GetBool(Napi::Env env, const Napi::Value& v, const char* what, bool* out) {
  if (v.IsBoolean()) {
    *out = v.As<Napi::Boolean>().Value();
    return true;
  }
  ThrowTypeError(env, std::string(what) + " must be a boolean");
  return false;
}

}  // namespace nsguard
