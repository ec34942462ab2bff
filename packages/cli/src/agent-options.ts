/**
 * What `nsguard agent` hands to @nsguard/agent's runAgent(). The CLI owns this shape; the
 * agent implements `runAgent(options: AgentCliOptions): Promise<number>` (the exit code).
 */
export interface AgentCliOptions {
  /** Policy files loaded at start-up (domain "static"). */
  tracingPolicies: string[];
  /** gRPC TCP listen address; "" disables the TCP listener. */
  serverAddress: string;
  /** gRPC unix socket path; "" disables the socket. */
  serverSocket: string;
  /** Node name stamped on events; unset means $NODE_NAME / hostname (decided by the agent). */
  nodeName?: string;
  /** Per-listener event queue length. */
  eventQueueSize: number;
  /** JSON export file; unset disables export. */
  exportFilename?: string;
  logLevel: string;
  /** Pod metadata (container id → pod) where no Kubernetes API is reachable. */
  podInfoFile?: string;
}
