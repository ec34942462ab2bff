import type { Logger } from "pino";
import { loadPodInfoFile } from "../pod-info-file.js";
import { CombinedPodInfoSource } from "./combined-pod-info.js";
import { CriError, CriPodInfoSource } from "./cri/cri-pod-info.js";
import { KubernetesPodInfoSource } from "./kubernetes/kubernetes-pod-info.js";
import type { PodInfoSource } from "./pod-info.js";
import { PodmanPodInfoSource } from "./podman/podman-pod-info.js";

/** The agent options that name pod metadata sources. */
export interface PodSourceOptions {
  podInfoFile?: string | undefined;
  criEndpoint?: string | undefined;
  criEndpointDiscovered?: boolean | undefined;
  podmanSocket?: string | undefined;
  kubernetes?: { kubeconfig?: string; nodeName?: string } | undefined;
}

/**
 * Starts every pod metadata source the options name and combines them: the first that knows a
 * container answers, in this order — the file (tests and the demo pin exact pods), the Kubernetes
 * API (the only one that knows owners: workload and workload_kind), the CRI (the node's Kubernetes
 * runtime), podman. Resolves undefined when none is named. A source that fails to start closes the
 * ones already started.
 */
export async function startPodInfoSources(
  options: PodSourceOptions,
  nodeName: string,
  logger: Logger,
): Promise<PodInfoSource | undefined> {
  const sources: PodInfoSource[] = [];
  try {
    if (options.podInfoFile) sources.push(loadPodInfoFile(options.podInfoFile));
    if (options.kubernetes) {
      const { kubeconfig, nodeName: node } = options.kubernetes;
      sources.push(
        await KubernetesPodInfoSource.start({
          ...(kubeconfig !== undefined ? { kubeconfig } : {}),
          nodeName: node ?? nodeName,
          logger,
        }),
      );
    }
    if (options.criEndpoint) {
      try {
        sources.push(await CriPodInfoSource.start({ endpoint: options.criEndpoint, logger }));
      } catch (err) {
        if (!(options.criEndpointDiscovered && err instanceof CriError)) throw err;
        logger.warn(
          { err, endpoint: options.criEndpoint },
          "no CRI at the runtime's standard socket: skipped",
        );
      }
    }
    if (options.podmanSocket) {
      sources.push(await PodmanPodInfoSource.start({ socketPath: options.podmanSocket, logger }));
    }
  } catch (err) {
    await Promise.all(sources.map((s) => s.close?.()));
    throw err;
  }
  if (sources.length > 0) logger.info({ sources: sources.map((s) => s.kind) }, "pod metadata sources");
  return sources.length > 1 ? new CombinedPodInfoSource(sources) : sources[0];
}
