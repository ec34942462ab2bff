// Generated wire schema (tetragon package): message schemas, types, enums, and the
// FineGuidanceSensors service descriptor.
export * from "./gen/tetragon/bpf_pb.js";
export * from "./gen/tetragon/capabilities_pb.js";
export * from "./gen/tetragon/events_pb.js";
export * from "./gen/tetragon/sensors_pb.js";
export * from "./gen/tetragon/tetragon_pb.js";
