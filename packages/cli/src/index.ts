export type { AgentCliOptions } from "./agent-options.js";
export type { CliIo } from "./io.js";
export { main } from "./main.js";
