// SPDX-License-Identifier: Apache-2.0
// peerCredentials(fd) — who is on the other end of a connected unix socket, as the kernel recorded
// it at connect() time. Node has no API for SO_PEERCRED; the gRPC server needs it to decide whether
// a unix-socket caller may change policies (only root, or an allowed group, may).
#include <napi.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <cerrno>
#include <string>
#include <vector>

#include "errors.h"
#include "peer_credentials.h"

namespace nsguard {

namespace {

// Supplementary groups of the peer (SO_PEERGROUPS, Linux ≥ 4.13): SO_PEERCRED has only the primary
// gid, and membership of an allowed group is usually supplementary. ERANGE says how many there are.
bool PeerGroups(int fd, std::vector<gid_t>* out, int* err) {
  socklen_t len = 16 * sizeof(gid_t);
  for (int attempt = 0; attempt < 4; attempt++) {
    out->resize(len / sizeof(gid_t) + 1);
    socklen_t got = static_cast<socklen_t>(out->size() * sizeof(gid_t));
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, out->data(), &got) == 0) {
      out->resize(got / sizeof(gid_t));
      return true;
    }
    if (errno != ERANGE) {
      *err = errno;
      return false;
    }
    len = got;  // the kernel wrote the size it needs
  }
  *err = ERANGE;
  return false;
}

}  // namespace

Napi::Value PeerCredentials(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t fd = -1;
  if (!GetI32(env, info[0], "fd", &fd)) return env.Undefined();
  struct ucred cred = {};
  socklen_t len = sizeof(cred);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    const int err = errno;
    ThrowBpfError(env, "getsockopt", err,
                  "getsockopt(SO_PEERCRED) on fd " + std::to_string(fd) + ": " + ErrnoName(err));
    return env.Undefined();
  }
  std::vector<gid_t> groups;
  int err = 0;
  if (!PeerGroups(fd, &groups, &err)) {
    ThrowBpfError(env, "getsockopt", err,
                  "getsockopt(SO_PEERGROUPS) on fd " + std::to_string(fd) + ": " + ErrnoName(err));
    return env.Undefined();
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("pid", Napi::Number::New(env, cred.pid));
  out.Set("uid", Napi::Number::New(env, cred.uid));
  out.Set("gid", Napi::Number::New(env, cred.gid));
  Napi::Array list = Napi::Array::New(env, groups.size());
  for (size_t i = 0; i < groups.size(); i++) list.Set(i, Napi::Number::New(env, groups[i]));
  out.Set("groups", list);
  return out;
}

}  // namespace nsguard
