// SPDX-License-Identifier: Apache-2.0
import { KprobeAction } from "@nsguard/sdk";
import { describe, expect, it } from "vitest";
import { KPROBE_ACTION_NOPOST, KPROBE_ACTION_POST, KPROBE_ACTION_SIGKILL } from "./compiled-policy-types.js";
import { MAX_ARG_VALUES, MAX_MATCH_ARGS, MAX_PID_VALUES, MAX_SELECTORS } from "./crd-limits.js";

// The kernel's values come from bpf/include/nsguard_events.h (@nsguard/kernel-contract); these are
// the Tetragon values they must keep equal, so a header change that breaks compatibility fails here.
describe("the kernel contract against Tetragon", () => {
  it("encodes actions as tetragon.KprobeAction", () => {
    expect([KPROBE_ACTION_POST, KPROBE_ACTION_SIGKILL, KPROBE_ACTION_NOPOST]).toEqual([
      KprobeAction.POST,
      KprobeAction.SIGKILL,
      KprobeAction.NOPOST,
    ]);
  });

  it("holds Tetragon's limits", () => {
    // MaxSelectors, matchPIDs' 4 kernel values, 5 matchArgs (one per argument), 4 matchArgs values.
    expect({ MAX_SELECTORS, MAX_PID_VALUES, MAX_MATCH_ARGS, MAX_ARG_VALUES }).toEqual({
      MAX_SELECTORS: 5,
      MAX_PID_VALUES: 4,
      MAX_MATCH_ARGS: 5,
      MAX_ARG_VALUES: 4,
    });
  });
});
