import { create } from "@bufbuild/protobuf";
import { type Pod, PodSchema } from "@nsguard/sdk";
import type { ContainerStatus, PodSandbox, PodSandboxStatus } from "../../gen/runtime/v1/api_pb.js";

/**
 * CRI responses → Tetragon's Pod, as Tetragon shows a pod it learnt from Kubernetes. The CRI
 * sees what kubelet gave the runtime, so the values are the ones kubelet itself reports in the
 * pod status Tetragon reads:
 * - namespace/name/uid: the sandbox metadata (kubelet copies them from the pod's ObjectMeta);
 * - pod_labels: the sandbox labels minus kubelet's own `io.kubernetes.*` bookkeeping keys
 *   (kubelet adds io.kubernetes.pod.name/namespace/uid to the pod's labels on the sandbox);
 * - container.id: `<runtime_name>://<id>` (runtime_name from Version: "containerd"), the form of
 *   pod status `containerID`;
 * - container.image.id: ContainerStatus.image_ref, which kubelet reports as `imageID`. For a
 *   pulled image containerd gives the repo digest `<repo>@sha256:<manifest digest>`; for an image
 *   that has no repo digest it gives the image id `sha256:<config digest>`, passed through as is
 *   (kubelet shows the same then);
 * - container.image.name: ContainerStatus.image.image, which containerd fills with the image's
 *   first repo tag (`<repo>:<tag>`, kubelet's `image`); when it holds only a digest or id, the
 *   reference the user specified (CRI ≥ 1.30 runtimes fill user_specified_image) if any;
 * - container.start_time: started_at, in whole seconds (unset until the container started);
 * - workload/workload_kind: the CRI has no owner references (they live only in the Kubernetes
 *   API), so the pod itself is the workload: name = pod name, kind "Pod" — what Tetragon shows
 *   for a bare pod. A Kubernetes-API source knows the real owner (Deployment, DaemonSet, ...).
 */
export function podFromCri(
  runtimeName: string,
  sandbox: PodSandbox | PodSandboxStatus,
  container: ContainerStatus,
): Pod {
  const startedAtNs = container.startedAt;
  return create(PodSchema, {
    namespace: sandbox.metadata?.namespace ?? "",
    name: sandbox.metadata?.name ?? "",
    uid: sandbox.metadata?.uid ?? "",
    container: {
      id: `${runtimeName}://${container.id}`,
      name: container.metadata?.name ?? "",
      image: { id: container.imageRef, name: imageName(container) },
      // Whole seconds: kubelet's pod status (metav1.Time) carries no more, so neither does
      // Tetragon's start_time ("2026-01-28T08:51:07Z").
      startTime: startedAtNs > 0n ? { seconds: startedAtNs / 1_000_000_000n, nanos: 0 } : undefined,
    },
    podLabels: podLabels(sandbox.labels),
    workload: sandbox.metadata?.name ?? "",
    workloadKind: "Pod",
  });
}

/** kubelet's bookkeeping labels on every sandbox (io.kubernetes.pod.name/namespace/uid, ...). */
const KUBELET_LABEL_PREFIX = "io.kubernetes.";

function podLabels(labels: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(labels).filter(([key]) => !key.startsWith(KUBELET_LABEL_PREFIX)));
}

function imageName(container: ContainerStatus): string {
  const image = container.image?.image ?? "";
  const userSpecified = container.image?.userSpecifiedImage ?? "";
  const onlyDigest = image.startsWith("sha256:") || image.includes("@sha256:");
  return onlyDigest && userSpecified !== "" ? userSpecified : image;
}
