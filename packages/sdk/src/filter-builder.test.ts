import { create, equals } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { filter } from "./filter-builder.js";
import { compileFilters } from "./filters.js";
import { CapabilitiesType } from "./gen/tetragon/capabilities_pb.js";
import { EventType, FilterSchema, GetEventsResponseSchema } from "./gen/tetragon/events_pb.js";

describe("filter()", () => {
  it("sets every Filter field it names, appending repeated values", () => {
    const built = filter()
      .binaryRegex("^/usr/bin/nsenter$")
      .binaryRegex("unshare")
      .parentBinaryRegex("sh$")
      .ancestorBinaryRegex("containerd-shim")
      .argumentsRegex("--target")
      .parentArgumentsRegex("-c")
      .namespaces("default", "")
      .namespaceRegex("^kube-")
      .podRegex("^web-")
      .containerNameRegex("^app$")
      .containerIdRegex("^abc")
      .labels("app=web")
      .eventTypes(EventType.PROCESS_KPROBE, EventType.PROCESS_EXEC)
      .pids(1, 2)
      .pidSet(3)
      .policyNames("namespace-access")
      .celExpressions("process_exec.process.pid > 1")
      .healthCheck(false)
      .inInitTree(true)
      .capabilities({ effective: { any: [CapabilitiesType.CAP_SYS_ADMIN] } })
      .build();
    const expected = create(FilterSchema, {
      binaryRegex: ["^/usr/bin/nsenter$", "unshare"],
      parentBinaryRegex: ["sh$"],
      ancestorBinaryRegex: ["containerd-shim"],
      argumentsRegex: ["--target"],
      parentArgumentsRegex: ["-c"],
      namespace: ["default", ""],
      namespaceRegex: ["^kube-"],
      podRegex: ["^web-"],
      containerNameRegex: ["^app$"],
      containerId: ["^abc"],
      labels: ["app=web"],
      eventSet: [EventType.PROCESS_KPROBE, EventType.PROCESS_EXEC],
      pid: [1, 2],
      pidSet: [3],
      policyNames: ["namespace-access"],
      celExpression: ["process_exec.process.pid > 1"],
      healthCheck: false,
      inInitTree: true,
      capabilities: { effective: { any: [CapabilitiesType.CAP_SYS_ADMIN] } },
    });
    expect(equals(FilterSchema, built, expected)).toBe(true);
  });

  it("never changes a builder that others extend", () => {
    const base = filter().eventTypes(EventType.PROCESS_KPROBE);
    const a = base.binaryRegex("a").build();
    const b = base.binaryRegex("b").build();
    expect(a.binaryRegex).toEqual(["a"]);
    expect(b.binaryRegex).toEqual(["b"]);
    expect(base.build().binaryRegex).toEqual([]);
  });

  it("produces filters that the server's filter code applies", () => {
    const event = create(GetEventsResponseSchema, {
      event: {
        case: "processKprobe",
        value: { process: { binary: "/usr/bin/nsenter", pod: { namespace: "default", name: "web-1" } } },
      },
    });
    const matches = (f: ReturnType<typeof filter>) => compileFilters([f.build()], [])(event);
    expect(
      matches(filter().binaryRegex("nsenter$").podRegex("^web-").eventTypes(EventType.PROCESS_KPROBE)),
    ).toBe(true);
    expect(matches(filter().binaryRegex("nsenter$").podRegex("^db-"))).toBe(false);
    expect(matches(filter().eventTypes(EventType.PROCESS_EXEC))).toBe(false);
  });
});
