// @nsguard/sdk/web (also what the package's "browser" condition resolves to): the SDK for
// browsers and other fetch-only runtimes. The same wire schema, filters and stream as the Node
// entry (index.ts), over @connectrpc/connect-web instead of connect-node. It must never import
// node:* modules or use Node globals such as Buffer, so these stay out:
//   client.ts (node:net, connect-node), compact.ts and fast-binary.ts/wire-writer.ts (Buffer).
// web.test.ts checks both the bundle and that every other export of index.ts is here.
export * from "./event-parts.js";
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
export * from "./web-client.js";
