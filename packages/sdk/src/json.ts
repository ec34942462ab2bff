import { fromJsonString, toJson } from "@bufbuild/protobuf";
import type { GetEventsResponse } from "./gen/tetragon/events_pb.js";
import { GetEventsResponseSchema } from "./gen/tetragon/events_pb.js";

/**
 * One event as Tetragon's `-o json` / export-file line: protojson with proto (snake_case)
 * field names, enums as names, 64-bit integers as strings, wrappers as bare values and
 * Timestamps in RFC 3339. No trailing newline.
 */
export function toJsonLine(event: GetEventsResponse): string {
  return JSON.stringify(toJson(GetEventsResponseSchema, event, { useProtoFieldName: true }));
}

/**
 * Parses one JSON event line (ours or Tetragon's). Unknown fields are ignored so that lines
 * from a newer Tetragon still load.
 */
export function fromJsonLine(line: string): GetEventsResponse {
  return fromJsonString(GetEventsResponseSchema, line, { ignoreUnknownFields: true });
}
