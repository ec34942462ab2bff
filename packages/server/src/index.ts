// @nsguard/server: the tetragon.FineGuidanceSensors API (gRPC, gRPC-Web and Connect on one
// listener) written against small interfaces — no kernel, no native code, no agent internals.

export {
  accessControlInterceptor,
  type Caller,
  callerKey,
  type PeerCredentials,
  type PeerCredentialsFn,
  READ_ONLY_RPCS,
  type UnixSocketControl,
} from "./access.js";
export { binaryShell, isBinaryContentType, splitTopLevelFields } from "./encoded-event.js";
export {
  codeForError,
  PermissionDeniedError,
  PolicyExistsError,
  PolicyNotFoundError,
  toConnectError,
} from "./errors.js";
export {
  DEFAULT_EVENT_QUEUE_BYTES,
  DEFAULT_EVENT_QUEUE_SIZE,
  EventHub,
  type EventHubOptions,
  type EventHubStats,
  EventSubscription,
  type SubscriberStats,
} from "./event-hub.js";
export {
  type CompiledGetEvents,
  compileGetEventsRequest,
  createGetEventsHandler,
  type GetEventsOptions,
} from "./get-events.js";
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
  type RunningServer,
  type ServerAddresses,
  type ServerTlsOptions,
  type StartServerOptions,
  startServer,
} from "./server.js";
