// SPDX-License-Identifier: Apache-2.0

import { encodeStruct, NSGUARD_ARG_EQUAL, NSGUARD_MAX_FOLLOW_FILTERS } from "@nsguard/kernel-contract";
import type { BpfObject } from "@nsguard/native";
import type { StringFilterTable } from "@nsguard/policy";
import { SensorError } from "./sensor-error.js";
import { stringKey } from "./string-key.js";

const FOLLOW_MAP = "nsguard_follow_filters";

interface LoadedFilter {
  keys: { map: string; key: Uint8Array }[];
  followBit?: number;
}

/**
 * The values of string filters (matchArgs on strings, matchBinaries) in the kernel's string maps
 * (bpf/lib/strings.bpf.h): one filter id per filter, its values as keys of one LPM trie. Equal
 * values carry their NUL, so only an equal string reaches them; Postfix values are reversed.
 * Shared by every policy, so a load creates no map and an unload leaves the maps as they were.
 */
export class StringFilters {
  private nextId = 1;
  private readonly loaded = new Map<number, LoadedFilter>();
  private readonly followBits = new Set<number>();

  constructor(private readonly object: BpfObject) {}

  /** Writes a filter's values; returns its filter id. */
  add(filter: StringFilterTable): number {
    const id = this.nextId++;
    const entry: LoadedFilter = { keys: [] };
    this.loaded.set(id, entry);
    try {
      for (const value of filter.values) {
        const { map, key } = stringKey(id, filter.op, value);
        this.object.updateMapElem(map, key, Uint8Array.of(1));
        entry.keys.push({ map, key });
      }
    } catch (err) {
      this.remove(id);
      throw err;
    }
    return id;
  }

  /**
   * matchBinaries followChildren: a bit every exec sets in the new process's follow_bits when its
   * binary equals one of the filter's values. Returns the bit + 1 (struct nsguard_binary_filter).
   */
  addFollow(filterId: number): number {
    // A bit a deleted filter gave to processes stays in their (and their children's) follow_bits
    // until they exit: handed to a new filter, it would make them match that filter. So a bit is
    // reused only once no process in the kernel's table carries it.
    const carried = this.object.readProcsFollowBits();
    let bit = 0;
    while (bit < NSGUARD_MAX_FOLLOW_FILTERS && (this.followBits.has(bit) || (carried >> BigInt(bit)) & 1n))
      bit++;
    if (bit >= NSGUARD_MAX_FOLLOW_FILTERS) {
      throw new SensorError(
        `at most ${NSGUARD_MAX_FOLLOW_FILTERS} matchBinaries followChildren filters can be loaded at once (a deleted one's bit is free again when the processes it followed have exited)`,
        "unsupported",
      );
    }
    const entry = this.loaded.get(filterId);
    if (entry === undefined) throw new Error(`string filter ${filterId} is not loaded`);
    this.object.updateMapElem(
      FOLLOW_MAP,
      u32(bit),
      encodeStruct("nsguard_follow_filter", { op: NSGUARD_ARG_EQUAL, filter_id: filterId }),
    );
    this.followBits.add(bit);
    entry.followBit = bit;
    return bit + 1;
  }

  /** Deletes a filter's values (and its follow bit). */
  remove(id: number): void {
    const entry = this.loaded.get(id);
    if (entry === undefined) return;
    this.loaded.delete(id);
    for (const { map, key } of entry.keys) this.object.deleteMapElem(map, key);
    if (entry.followBit !== undefined) {
      this.object.updateMapElem(FOLLOW_MAP, u32(entry.followBit), encodeStruct("nsguard_follow_filter", {}));
      this.followBits.delete(entry.followBit);
    }
  }
}

function u32(value: number): Uint8Array {
  const key = new Uint8Array(4);
  new DataView(key.buffer).setUint32(0, value, true);
  return key;
}
