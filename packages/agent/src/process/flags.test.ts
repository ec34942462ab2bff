import { describe, expect, it } from "vitest";
import { decodeFlags, formatFlags, ProcessFlag, parseFlags } from "./flags.js";

describe("formatFlags", () => {
  it("prints the seed's exec-after-fork flags in Tetragon's order", () => {
    // Bits in "wrong" numeric order on purpose: output order is fixed, not input order.
    expect(formatFlags(ProcessFlag.CLONE | ProcessFlag.ROOT_CWD | ProcessFlag.EXECVE)).toBe(
      "execve rootcwd clone",
    );
  });

  it("prints a procfs-scanned process like Tetragon does", () => {
    expect(formatFlags(ProcessFlag.PROCFS)).toBe("procFS");
    expect(formatFlags(ProcessFlag.PROCFS | ProcessFlag.NEEDS_AUID | ProcessFlag.ROOT_CWD)).toBe(
      "procFS auid rootcwd",
    );
  });

  it("uses Tetragon's spellings, not the proto comment's", () => {
    expect(decodeFlags(ProcessFlag.NO_CWD | ProcessFlag.ERROR_CWD)).toEqual(["nocwd", "errorCWD"]);
  });

  it("puts errorCgroupID before errorCgroupKn although its bit is larger", () => {
    expect(formatFlags(ProcessFlag.ERROR_CGROUP_KN | ProcessFlag.ERROR_CGROUP_ID)).toBe(
      "errorCgroupID errorCgroupKn",
    );
  });

  it("is empty for no flags and ignores unknown bits", () => {
    expect(formatFlags(0)).toBe("");
    expect(formatFlags(0x02 | 0x20)).toBe("");
  });

  it("matches the NSGUARD_FLAG_* values of the shared kernel header", () => {
    // bpf/include/nsguard_events.h
    expect(ProcessFlag.EXECVE).toBe(0x01);
    expect(ProcessFlag.PROCFS).toBe(0x04);
    expect(ProcessFlag.TRUNC_ARGS).toBe(0x10);
    expect(ProcessFlag.MISS).toBe(0x40);
    expect(ProcessFlag.ERROR_FILENAME).toBe(0x100);
    expect(ProcessFlag.ERROR_ARGS).toBe(0x200);
    expect(ProcessFlag.NO_CWD).toBe(0x800);
    expect(ProcessFlag.ROOT_CWD).toBe(0x1000);
    expect(ProcessFlag.ERROR_CWD).toBe(0x2000);
    expect(ProcessFlag.CLONE).toBe(0x4000);
  });
});

describe("parseFlags", () => {
  it("round-trips every known flag", () => {
    const all = Object.values(ProcessFlag).reduce((a, b) => a | b, 0);
    expect(parseFlags(formatFlags(all))).toBe(all);
    expect(parseFlags("execve bogus clone")).toBe(ProcessFlag.EXECVE | ProcessFlag.CLONE);
  });
});
