// SPDX-License-Identifier: Apache-2.0
import { NSGUARD_STRING_LEN, structs } from "@nsguard/kernel-contract";
import { describe, expect, it } from "vitest";
import { stringKey } from "./string-key.js";

const K = structs.nsguard_string_key;
const utf8 = new TextEncoder();

/** prefixlen, filter_id and the data bytes the prefix covers, read back by the generated layout. */
function decode(key: Uint8Array): { prefixlen: number; filterId: number; data: number[]; rest: number[] } {
  const view = new DataView(key.buffer, key.byteOffset, key.byteLength);
  const prefixlen = view.getUint32(K.fields.prefixlen.offset, true);
  const data = [...key.subarray(K.fields.data.offset, K.fields.data.offset + K.fields.data.size)];
  const bytes = (prefixlen - 32) / 8;
  return {
    prefixlen,
    filterId: view.getUint32(K.fields.filter_id.offset, true),
    data: data.slice(0, bytes),
    rest: data.slice(bytes),
  };
}

describe("string filter keys (struct nsguard_string_key, bpf/lib/strings.bpf.h)", () => {
  it("is exactly one struct nsguard_string_key", () => {
    expect(stringKey(1, "Prefix", "/").key.length).toBe(K.size);
  });

  it.each(["Equal", "NotEqual"] as const)("%s: the value and its NUL, in the prefix map", (op) => {
    const { map, key } = stringKey(42, op, "/bin/sh");
    expect(map).toBe("nsguard_string_prefix");
    const k = decode(key);
    expect(k.filterId).toBe(42);
    // 32 bits of filter_id + 8 per byte: "/bin/sh" is 7 bytes, the NUL the 8th.
    expect(k.prefixlen).toBe(32 + 8 * 8);
    expect(k.data).toEqual([...utf8.encode("/bin/sh"), 0]);
    expect(k.rest.every((b) => b === 0)).toBe(true);
  });

  it.each(["Prefix", "NotPrefix"] as const)("%s: the value without a NUL, in the prefix map", (op) => {
    const { map, key } = stringKey(3, op, "/usr/");
    expect(map).toBe("nsguard_string_prefix");
    const k = decode(key);
    expect(k.prefixlen).toBe(32 + 8 * 5);
    expect(k.data).toEqual([...utf8.encode("/usr/")]);
  });

  it.each(["Postfix", "NotPostfix"] as const)("%s: the value's bytes reversed, in the postfix map", (op) => {
    const { map, key } = stringKey(9, op, "/runc");
    expect(map).toBe("nsguard_string_postfix");
    const k = decode(key);
    expect(k.filterId).toBe(9);
    expect(k.prefixlen).toBe(32 + 8 * 5);
    expect(String.fromCharCode(...k.data)).toBe("cnur/");
  });

  it("measures and reverses UTF-8 bytes, as the kernel reverses the argument's bytes", () => {
    const value = "/tmp/é";
    const bytes = [...utf8.encode(value)];
    expect(bytes.length).toBe(7);
    const k = decode(stringKey(1, "Postfix", value).key);
    expect(k.prefixlen).toBe(32 + 8 * 7);
    expect(k.data).toEqual(bytes.reverse());
    expect(decode(stringKey(1, "Equal", value).key).prefixlen).toBe(32 + 8 * 8);
  });

  it("an empty Prefix value covers only the filter id: every string of the filter matches", () => {
    expect(decode(stringKey(5, "Prefix", "").key)).toMatchObject({ prefixlen: 32, filterId: 5, data: [] });
  });

  it("a value that fills the data has no room for the NUL, as the kernel's lookup key", () => {
    // The compiler refuses Equal values this long; the kernel compares a full buffer without a NUL.
    const k = decode(stringKey(1, "Equal", "a".repeat(NSGUARD_STRING_LEN)).key);
    expect(k.prefixlen).toBe(32 + 8 * NSGUARD_STRING_LEN);
    expect(k.data).toEqual(Array(NSGUARD_STRING_LEN).fill(0x61));
  });
});
