// SPDX-License-Identifier: Apache-2.0
// The one place the native addon includes the shared wire header.
#ifndef NSGUARD_NATIVE_SRC_HEADER_H_
#define NSGUARD_NATIVE_SRC_HEADER_H_

#include <linux/types.h>

extern "C" {
#include "nsguard_events.h"
}

#endif  // NSGUARD_NATIVE_SRC_HEADER_H_
