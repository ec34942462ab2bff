import { create } from "@bufbuild/protobuf";
import { PodSchema } from "@nsguard/sdk";
import { describe, expect, it } from "vitest";
import { ContainerState, ContainerStatusSchema, PodSandboxSchema } from "../../gen/runtime/v1/api_pb.js";
import { podFromCri } from "./cri-pod.js";

const ID = "057dc8d712abf96c628c82ea111d53a205a256b0dc39bb31284426aaf378acbc";
const DIGEST = "sha256:5aad04835eda9025fe4561ad31be77fd55309af8158ca8663a72f6abb78c2603";

// What kubelet gives containerd for the seed's pod, and what containerd 1.6 answers.
const sandbox = create(PodSandboxSchema, {
  id: "f7d78af053e004eb8c1efa15f91515bd796ad7181c1dc0fe536993f86e137cbc",
  metadata: { name: "xwing", namespace: "default", uid: "6e0b2e8c-0c1c-4d57-9d6a-4f1f3c0f3a01" },
  labels: {
    "app.kubernetes.io/name": "xwing",
    class: "xwing",
    org: "alliance",
    "io.kubernetes.pod.name": "xwing",
    "io.kubernetes.pod.namespace": "default",
    "io.kubernetes.pod.uid": "6e0b2e8c-0c1c-4d57-9d6a-4f1f3c0f3a01",
  },
});
interface StatusOverrides {
  state?: ContainerState;
  startedAt?: bigint;
  image?: { image: string; userSpecifiedImage?: string };
  imageRef?: string;
}
const status = (init: StatusOverrides = {}) =>
  create(ContainerStatusSchema, {
    id: ID,
    metadata: { name: "spaceship" },
    state: ContainerState.CONTAINER_RUNNING,
    // 2026-01-28T08:51:07.123456789Z
    startedAt: 1_769_590_267_123_456_789n,
    image: { image: "quay.io/cilium/json-mock:latest" },
    imageRef: `quay.io/cilium/json-mock@${DIGEST}`,
    ...init,
  });

describe("podFromCri", () => {
  it("maps the sandbox and container status to the seed event's pod block", () => {
    expect(podFromCri("containerd", sandbox, status())).toEqual(
      create(PodSchema, {
        namespace: "default",
        name: "xwing",
        uid: "6e0b2e8c-0c1c-4d57-9d6a-4f1f3c0f3a01",
        container: {
          id: `containerd://${ID}`,
          name: "spaceship",
          image: { id: `quay.io/cilium/json-mock@${DIGEST}`, name: "quay.io/cilium/json-mock:latest" },
          startTime: { seconds: 1_769_590_267n, nanos: 0 },
        },
        podLabels: { "app.kubernetes.io/name": "xwing", class: "xwing", org: "alliance" },
        workload: "xwing",
        workloadKind: "Pod",
      }),
    );
  });

  it("uses the runtime's own name as the container id scheme", () => {
    expect(podFromCri("cri-o", sandbox, status()).container?.id).toBe(`cri-o://${ID}`);
  });

  it("passes an image id through when the image has no repo digest (kubelet shows the same)", () => {
    const pod = podFromCri("containerd", sandbox, status({ imageRef: DIGEST }));
    expect(pod.container?.image?.id).toBe(DIGEST);
  });

  it("names the image by the user's reference when the runtime only has a digest", () => {
    const pod = podFromCri(
      "containerd",
      sandbox,
      status({ image: { image: DIGEST, userSpecifiedImage: "quay.io/cilium/json-mock:latest" } }),
    );
    expect(pod.container?.image?.name).toBe("quay.io/cilium/json-mock:latest");
    const noUser = podFromCri("containerd", sandbox, status({ image: { image: DIGEST } }));
    expect(noUser.container?.image?.name).toBe(DIGEST);
  });

  it("has no start_time for a container that has not started", () => {
    const pod = podFromCri(
      "containerd",
      sandbox,
      status({ state: ContainerState.CONTAINER_CREATED, startedAt: 0n }),
    );
    expect(pod.container?.startTime).toBeUndefined();
  });
});
