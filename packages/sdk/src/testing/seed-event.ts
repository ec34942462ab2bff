import { readFileSync } from "node:fs";
import { fromJson, type JsonValue } from "@bufbuild/protobuf";
import { type GetEventsResponse, GetEventsResponseSchema } from "../gen/tetragon/events_pb.js";

/**
 * The process_kprobe event of spec/seed-namespace-access.md (the JSON `tetra getevents` printed
 * for `nsenter -t 1 -m -u -n -i -p` in pod default/xwing), transcribed once into
 * examples/seed-event.json, which the agent's and the SDK's tests share.
 */
export const seedEventJson: JsonValue = JSON.parse(
  readFileSync(new URL("../../../../examples/seed-event.json", import.meta.url), "utf8"),
);

/** The seed event as a message (parsed with protojson, so every key must exist in our schema). */
export function seedEvent(): GetEventsResponse {
  return fromJson(GetEventsResponseSchema, seedEventJson);
}
