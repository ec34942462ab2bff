import type { MessageInitShape } from "@bufbuild/protobuf";
import { clone, create, equals } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { compileFieldFilters } from "./field-filters.js";
import { FilterError } from "./filter-error.js";
import type { GetEventsResponse } from "./gen/tetragon/events_pb.js";
import {
  EventType,
  FieldFilterAction,
  FieldFilterSchema,
  GetEventsResponseSchema,
} from "./gen/tetragon/events_pb.js";
import { toJsonLine } from "./json.js";
import { fieldFilterCases, filterEvents, invalidFieldFilterPaths } from "./testing/filter-cases.js";
import { seedEvent } from "./testing/seed-event.js";

const ff = (init: MessageInitShape<typeof FieldFilterSchema>) => create(FieldFilterSchema, init);
const json = (ev: GetEventsResponse) => JSON.parse(toJsonLine(ev));

const execEvent = create(GetEventsResponseSchema, {
  event: {
    case: "processExec",
    value: { process: { binary: "/bin/ls", pid: 5 }, parent: { binary: "/bin/sh" } },
  },
  nodeName: "node-a",
});

describe("compileFieldFilters (shared table)", () => {
  it.each(fieldFilterCases.map((c) => [c.name, c] as const))("%s", (_name, c) => {
    const apply = compileFieldFilters(c.fieldFilters.map(ff));
    expect(json(apply(filterEvents()[c.event]))).toStrictEqual(c.json);
  });
  it.each(invalidFieldFilterPaths)("rejects the path %j", (path) => {
    expect(() => compileFieldFilters([ff({ fields: { paths: [path] } })])).toThrow(FilterError);
  });
});

describe("compileFieldFilters", () => {
  it("INCLUDE keeps only the listed paths of the inner event and all top-level fields", () => {
    const apply = compileFieldFilters([
      ff({ action: FieldFilterAction.INCLUDE, fields: { paths: ["process.binary", "function_name"] } }),
    ]);
    expect(json(apply(seedEvent()))).toStrictEqual({
      process_kprobe: { process: { binary: "/usr/bin/nsenter" }, function_name: "__x64_sys_setns" },
      node_name: "tetragon-dev-control-plane",
      time: "2026-01-30T18:15:20.001042828Z",
    });
  });

  it("INCLUDE of a whole sub-message keeps all of it", () => {
    const apply = compileFieldFilters([
      ff({ action: FieldFilterAction.INCLUDE, fields: { paths: ["parent", "parent.pid"] } }),
    ]);
    const out = json(apply(seedEvent()));
    expect(Object.keys(out.process_kprobe)).toEqual(["parent"]);
    expect(out.process_kprobe.parent).toStrictEqual(json(seedEvent()).process_kprobe.parent);
  });

  it("EXCLUDE removes paths, through repeated messages and map keys", () => {
    const apply = compileFieldFilters([
      ff({
        action: FieldFilterAction.EXCLUDE,
        fields: { paths: ["parent", "process.pod.pod_labels.org", "process.pod.container", "args.int_arg"] },
      }),
    ]);
    const out = json(apply(seedEvent())).process_kprobe;
    expect(out.parent).toBeUndefined();
    expect(out.process.pod.pod_labels).toStrictEqual({ "app.kubernetes.io/name": "xwing", class: "xwing" });
    expect(out.process.pod.container).toBeUndefined();
    expect(out.args).toStrictEqual([{}, {}]);
    expect(out.function_name).toBe("__x64_sys_setns");
  });

  it("INCLUDE inside a oneof keeps the selected member", () => {
    const apply = compileFieldFilters([
      ff({ action: FieldFilterAction.INCLUDE, fields: { paths: ["args.int_arg"] } }),
    ]);
    expect(json(apply(seedEvent())).process_kprobe).toStrictEqual({
      args: [{ int_arg: 3 }, { int_arg: 134217728 }],
    });
  });

  it("filters run in order, so exclusion wins", () => {
    const apply = compileFieldFilters([
      ff({ action: FieldFilterAction.INCLUDE, fields: { paths: ["process"] } }),
      ff({ action: FieldFilterAction.EXCLUDE, fields: { paths: ["process.pod"] } }),
    ]);
    const out = json(apply(seedEvent())).process_kprobe;
    expect(Object.keys(out)).toEqual(["process"]);
    expect(out.process.pod).toBeUndefined();
    expect(out.process.binary).toBe("/usr/bin/nsenter");
  });

  it("event_set limits the filter to those types; invert_event_set flips it", () => {
    const only = compileFieldFilters([
      ff({
        eventSet: [EventType.PROCESS_EXEC],
        action: FieldFilterAction.EXCLUDE,
        fields: { paths: ["parent"] },
      }),
    ]);
    expect(json(only(seedEvent())).process_kprobe.parent).toBeDefined();
    expect(json(only(execEvent)).process_exec.parent).toBeUndefined();

    const except = compileFieldFilters([
      ff({
        eventSet: [EventType.PROCESS_EXEC],
        invertEventSet: true,
        action: FieldFilterAction.EXCLUDE,
        fields: { paths: ["parent"] },
      }),
    ]);
    expect(json(except(seedEvent())).process_kprobe.parent).toBeUndefined();
    expect(json(except(execEvent)).process_exec.parent).toBeDefined();
  });

  it("never mutates the input and returns it untouched when no filter applies", () => {
    const ev = seedEvent();
    const before = clone(GetEventsResponseSchema, ev);
    const apply = compileFieldFilters([
      ff({ action: FieldFilterAction.INCLUDE, fields: { paths: ["process.pid"] } }),
    ]);
    const out = apply(ev);
    expect(out).not.toBe(ev);
    expect(equals(GetEventsResponseSchema, ev, before)).toBe(true);

    const notApplicable = compileFieldFilters([
      ff({ eventSet: [EventType.PROCESS_EXIT], fields: { paths: ["process"] } }),
    ]);
    expect(notApplicable(ev)).toBe(ev);
  });

  it("a filter with no paths changes nothing", () => {
    const ev = seedEvent();
    expect(compileFieldFilters([ff({ action: FieldFilterAction.INCLUDE })])(ev)).toBe(ev);
  });

  it("accepts a path that exists only in some of the selected event types", () => {
    const apply = compileFieldFilters([
      ff({ action: FieldFilterAction.EXCLUDE, fields: { paths: ["function_name"] } }),
    ]);
    expect(json(apply(seedEvent())).process_kprobe.function_name).toBeUndefined();
    expect(json(apply(execEvent))).toStrictEqual(json(execEvent));
  });
});
