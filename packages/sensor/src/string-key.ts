// SPDX-License-Identifier: Apache-2.0

import { encodeStruct, NSGUARD_STRING_LEN } from "@nsguard/kernel-contract";
import type { StringFilterTable } from "@nsguard/policy";

// Kept apart from StringFilters (which writes the maps) so the encoding, the part the kernel's
// lookups depend on byte for byte, is checked without a loaded BPF object. Not in the package index.

const PREFIX_MAP = "nsguard_string_prefix";
const POSTFIX_MAP = "nsguard_string_postfix";
/** Bits of struct nsguard_string_key.prefixlen taken by filter_id. */
const FILTER_ID_BITS = 32;

const utf8 = new TextEncoder();

/** The LPM map and struct nsguard_string_key (bpf/lib/strings.bpf.h) of one value of a string filter. */
export function stringKey(
  filterId: number,
  op: StringFilterTable["op"],
  value: string,
): { map: string; key: Uint8Array } {
  let bytes = utf8.encode(value).slice(0, NSGUARD_STRING_LEN);
  let map = PREFIX_MAP;
  if (op === "Equal" || op === "NotEqual") {
    // The NUL makes the value match only a string that ends where it ends.
    if (bytes.length < NSGUARD_STRING_LEN) bytes = Uint8Array.from([...bytes, 0]);
  } else if (op === "Postfix" || op === "NotPostfix") {
    bytes = bytes.reverse();
    map = POSTFIX_MAP;
  }
  const key = encodeStruct("nsguard_string_key", {
    prefixlen: FILTER_ID_BITS + 8 * bytes.length,
    filter_id: filterId,
    data: bytes,
  });
  return { map, key };
}
