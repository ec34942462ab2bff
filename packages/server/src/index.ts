// @nsguard/server: the tetragon.FineGuidanceSensors API (gRPC, gRPC-Web and Connect on one
// listener) written against small interfaces — no kernel, no native code, no agent internals.

export { binaryShell, isBinaryContentType, splitTopLevelFields } from "./encoded-event.js";
export { codeForError, toConnectError } from "./errors.js";
export {
  DEFAULT_EVENT_QUEUE_BYTES,
  DEFAULT_EVENT_QUEUE_SIZE,
  EventHub,
  type EventHubOptions,
  type EventHubStats,
  EventSubscription,
  type SubscriberStats,
} from "./event-hub.js";
export { createGetEventsHandler, type GetEventsOptions } from "./get-events.js";
export { HubEvent, type PublishMeta } from "./hub-event.js";
export {
  type ConfigureTracingPolicyOptions,
  type EventSource,
  GRPC_POLICY_DOMAIN,
  type HealthSource,
  type PipelineHealthInit,
  type PolicyStore,
  type ServerDeps,
  type ServerInfo,
  type SubscribeOptions,
} from "./interfaces.js";
export { parseTcpAddress, parseUnixSocketPath, type TcpListenAddress } from "./listen-address.js";
export {
  createNodeHandler,
  isClientGoneError,
  type NodeHandlerFn,
  type NodeHandlerOptions,
  type RpcErrorReporter,
} from "./node-handler.js";
export { sniffHttpVersion } from "./protocol-sniff.js";
export { withServerReflection } from "./reflection.js";
export { createFineGuidanceSensorsImpl, createFineGuidanceSensorsRoutes, SERVER_NAME } from "./routes.js";
export {
  type CloseOptions,
  DEFAULT_CLOSE_GRACE_MS,
  DEFAULT_UNIX_SOCKET_MODE,
  type RunningServer,
  type ServerAddresses,
  type StartServerOptions,
  startServer,
} from "./server.js";
