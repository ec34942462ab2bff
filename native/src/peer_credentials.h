// SPDX-License-Identifier: Apache-2.0
#ifndef NSGUARD_NATIVE_SRC_PEER_CREDENTIALS_H_
#define NSGUARD_NATIVE_SRC_PEER_CREDENTIALS_H_

#include <napi.h>

namespace nsguard {

// peerCredentials(fd: number) → { pid, uid, gid, groups } of a connected unix socket's peer
// (SO_PEERCRED + SO_PEERGROUPS). Throws BpfError (op "getsockopt") when fd is not such a socket.
Napi::Value PeerCredentials(const Napi::CallbackInfo& info);

}  // namespace nsguard

#endif  // NSGUARD_NATIVE_SRC_PEER_CREDENTIALS_H_
