import { toJson } from "@bufbuild/protobuf";
import { GetEventsRequestSchema } from "@nsguard/sdk";
import { describe, expect, it } from "vitest";
import { buildGetEventsRequest } from "./getevents-request.js";

const json = (flags: Parameters<typeof buildGetEventsRequest>[0]) =>
  toJson(GetEventsRequestSchema, buildGetEventsRequest(flags), { useProtoFieldName: true });

describe("buildGetEventsRequest (tetra's GetFilter + getRequest)", () => {
  it("puts every flag into one allow-list Filter, --cel-expression included", () => {
    expect(
      json({
        namespace: ["default"],
        host: true,
        processes: ["nsenter"],
        celExpression: ["process_kprobe.function_name == '__x64_sys_setns'", "true"],
        eventTypes: ["process_kprobe"],
      }),
    ).toEqual({
      allow_list: [
        {
          namespace: ["default", ""],
          binary_regex: ["nsenter"],
          cel_expression: ["process_kprobe.function_name == '__x64_sys_setns'", "true"],
          event_set: ["PROCESS_KPROBE"],
        },
      ],
    });
  });

  it("sends no filter when no flag asks for one", () => {
    expect(json({})).toEqual({});
  });
});
