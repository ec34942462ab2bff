// Generated wire schema (tetragon package): message schemas, types, enums, and the
// FineGuidanceSensors service descriptor.

// Shared logic: one implementation for the server, the exporter, the CLI and users.
export * from "./client.js";
export * from "./compact.js";
export * from "./event-parts.js";
export * from "./fast-binary.js";
export * from "./field-filters.js";
export * from "./filter-builder.js";
export * from "./filter-error.js";
export * from "./filters.js";
export * from "./gen/tetragon/bpf_pb.js";
export * from "./gen/tetragon/capabilities_pb.js";
export * from "./gen/tetragon/events_pb.js";
export * from "./gen/tetragon/sensors_pb.js";
export * from "./gen/tetragon/tetragon_pb.js";
export * from "./go-quote.js";
export * from "./json.js";
export * from "./label-selector.js";
export * from "./namespace-flags.js";
export * from "./regex.js";
export * from "./stream.js";
export * from "./syscall-name.js";
