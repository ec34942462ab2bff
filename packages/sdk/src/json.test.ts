import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { GetEventsResponseSchema } from "./gen/tetragon/events_pb.js";
import { fromJsonLine, toJsonLine } from "./json.js";
import { seedEvent, seedEventJson } from "./testing/seed-event.js";

describe("toJsonLine", () => {
  it("reproduces the seed's namespace-access event exactly", () => {
    const line = toJsonLine(seedEvent());
    expect(line).not.toContain("\n");
    expect(JSON.parse(line)).toStrictEqual(seedEventJson);
  });

  it("writes 64-bit integers as strings, wrappers as bare values, enums as names", () => {
    const ev = create(GetEventsResponseSchema, {
      event: {
        case: "processKprobe",
        value: {
          process: { pid: 0, inInitTree: false, refcnt: 0 },
          args: [
            { arg: { case: "sizeArg", value: 18446744073709551615n } },
            { arg: { case: "longArg", value: -5n } },
          ],
        },
      },
      nodeName: "n",
    });
    expect(JSON.parse(toJsonLine(ev))).toStrictEqual({
      process_kprobe: {
        process: { pid: 0, in_init_tree: false },
        args: [{ size_arg: "18446744073709551615" }, { long_arg: "-5" }],
      },
      node_name: "n",
    });
  });

  it("round-trips through fromJsonLine and ignores unknown fields", () => {
    const line = toJsonLine(seedEvent());
    expect(toJsonLine(fromJsonLine(line))).toBe(line);
    const withExtra = JSON.stringify({ ...(seedEventJson as object), some_future_field: 1 });
    expect(JSON.parse(toJsonLine(fromJsonLine(withExtra)))).toStrictEqual(seedEventJson);
  });
});
