// SPDX-License-Identifier: Apache-2.0

import {
  MAX_MESSAGE_LENGTH,
  MAX_SELECTORS,
  MAX_TAG_LENGTH,
  MAX_TAGS,
  MIN_MESSAGE_LENGTH,
  MIN_TAG_LENGTH,
} from "./crd-limits.js";
import { readKProbeArg } from "./read-kprobe-arg.js";
import { readSelector } from "./read-selector.js";
import type { KProbeArg, KProbeSelector } from "./tracing-policy-types.js";
import type { MapView } from "./yaml-reader.js";

// Fields every hook kind (kprobe, tracepoint, LSM, uprobe, USDT) shares, with Tetragon's limits.

const encoder = new TextEncoder();

/** `message`: absent or "" means none; otherwise 2..256 bytes (Tetragon counts bytes). */
export function readMessage(view: MapView): string | undefined {
  const message = view.string("message");
  if (message === undefined || message === "") return undefined;
  const bytes = encoder.encode(message).length;
  if (bytes < MIN_MESSAGE_LENGTH || bytes > MAX_MESSAGE_LENGTH) {
    view.reader.fail(
      view.child("message"),
      `must be ${MIN_MESSAGE_LENGTH} to ${MAX_MESSAGE_LENGTH} bytes long (got ${bytes})`,
      view.value("message"),
    );
  }
  return message;
}

/** `tags`: at most 16, each 2..128 bytes. */
export function readTags(view: MapView): string[] | undefined {
  return view.list(
    "tags",
    (item, path) => {
      const tag = view.reader.string(item, path);
      const bytes = encoder.encode(tag).length;
      if (bytes < MIN_TAG_LENGTH || bytes > MAX_TAG_LENGTH) {
        view.reader.fail(
          path,
          `a tag must be ${MIN_TAG_LENGTH} to ${MAX_TAG_LENGTH} bytes long (got ${bytes})`,
          item,
        );
      }
      return tag;
    },
    MAX_TAGS,
  );
}

export function readArgs(view: MapView, name: "args" | "data"): KProbeArg[] | undefined {
  return view.list(name, (item, path) => readKProbeArg(view.reader, item, path));
}

/** `selectors`: at most 5 per hook. */
export function readSelectors(view: MapView): KProbeSelector[] | undefined {
  return view.list("selectors", (item, path) => readSelector(view.reader, item, path), MAX_SELECTORS);
}

/** CRD rule shared by kprobes and uprobes: `return: true` needs a `returnArg` to report. */
export function requireReturnArg(view: MapView, isReturn: boolean, returnArg: KProbeArg | undefined): void {
  if (isReturn && returnArg === undefined) {
    view.reader.fail(view.child("returnArg"), "required when return is true", view.node);
  }
}
