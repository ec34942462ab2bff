export {
  type AgentOptions,
  describeStartupError,
  type RunningAgent,
  runAgent,
  startAgent,
} from "./agent.js";
export { BootClock } from "./clock.js";
export { type PodInfoSource, StaticPodInfoSource } from "./container/pod-info.js";
export { Observer, type ObserverStats } from "./observer.js";
export { loadPodInfoFile } from "./pod-info-file.js";
export { PolicyDirectory, type PolicyFileState } from "./policies/policy-directory.js";
export { AgentPolicyStore, type PolicyLoader, STATIC_POLICY_DOMAIN } from "./policies/policy-store.js";
export { ProcessCache } from "./process/process-cache.js";
export {
  type RunResult,
  SimulatedContainer,
  type SimulatedContainerOptions,
  startHostAnchor,
} from "./sim/simulated-container.js";
export { AGENT_VERSION } from "./version.js";
