import { readFileSync } from "node:fs";
import { create, toJson } from "@bufbuild/protobuf";
import { PodSchema } from "@nsguard/sdk";
import { describe, expect, it } from "vitest";
import type { LibpodContainerInspect, LibpodPodInspect } from "./libpod-client.js";
import { PodmanPodInfoSource, podFromLibpod } from "./podman-pod-info.js";

// Recorded from podman 4.3.1 on this machine (`podman pod create --name xwing --label app=xwing
// --label org=alliance`, then `podman run --pod xwing --name xwing-app --label app=xwing --label
// io.kubernetes.pod.namespace=empire`), through /v4.0.0/libpod/{containers,pods}/<id>/json.
function fixture<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), "utf8")) as T;
}
const app = fixture<LibpodContainerInspect>("inspect-xwing-app.json");
const xwing = fixture<LibpodPodInspect>("pod-xwing.json");

describe("podFromLibpod", () => {
  it("maps a container in a pod to Tetragon's pod block", () => {
    const pod = podFromLibpod(app, xwing);
    expect(toJson(PodSchema, pod)).toStrictEqual({
      namespace: "empire",
      name: "xwing",
      uid: xwing.Id,
      container: {
        id: `podman://${app.Id}`,
        name: "xwing-app",
        image: {
          id: "localhost/nsguard-bb@sha256:ee79328cdd2a3779391bd8953a6d5ccd1609d6f750857b771d7a421336854a69",
          name: "localhost/nsguard-bb:1",
        },
        startTime: "2026-12-01T12:01:03.534338992Z",
      },
      // The pod's labels (org) are merged: `podman run --pod` does not copy them to the container.
      podLabels: { app: "xwing", org: "alliance" },
      workload: "xwing",
      workloadKind: "Pod",
    });
  });

  it("prefers io.kubernetes.* labels and annotations (kube play) and drops them from pod_labels", () => {
    const pod = podFromLibpod(
      {
        ...app,
        Config: {
          Labels: { app: "xwing", "io.kubernetes.pod.name": "xwing-k8s", "io.kubernetes.pod.uid": "u-1" },
          Annotations: {
            "io.kubernetes.pod.namespace": "rebels",
            "io.kubernetes.container.name": "spaceship",
          },
        },
      },
      xwing,
    );
    expect(pod.name).toBe("xwing-k8s");
    expect(pod.namespace).toBe("rebels");
    expect(pod.uid).toBe("u-1");
    expect(pod.container?.name).toBe("spaceship");
    expect(pod.podLabels).toStrictEqual({ app: "xwing", org: "alliance" });
  });

  it("a container outside any pod is its own pod, in no namespace", () => {
    const pod = podFromLibpod({ ...app, Pod: "", Config: { Labels: null, Annotations: null } });
    expect(pod.name).toBe("xwing-app");
    expect(pod.namespace).toBe("");
    expect(pod.uid).toBe("");
    expect(pod.workload).toBe("xwing-app");
    expect(pod.podLabels).toStrictEqual({});
  });

  it("the container's own label wins over the pod's", () => {
    const pod = podFromLibpod({ ...app, Config: { Labels: { org: "empire" } } }, xwing);
    expect(pod.podLabels).toStrictEqual({ app: "xwing", org: "empire" });
  });

  it("image id: the image id when there is no digest; registry ports are not tags", () => {
    expect(podFromLibpod({ ...app, ImageDigest: "" }).container?.image?.id).toBe(`sha256:${app.Image}`);
    expect(podFromLibpod({ ...app, ImageName: "reg.example:5000/ns/img:2.1" }).container?.image?.id).toBe(
      `reg.example:5000/ns/img@${app.ImageDigest}`,
    );
    expect(podFromLibpod({ ...app, ImageName: "reg.example:5000/img" }).container?.image?.id).toBe(
      `reg.example:5000/img@${app.ImageDigest}`,
    );
  });

  it("no start_time before the container started (Go's zero time); offsets are honoured", () => {
    const created = podFromLibpod({ ...app, State: { StartedAt: "0001-01-01T00:00:00Z" } });
    expect(created.container?.startTime).toBeUndefined();
    const offset = podFromLibpod({ ...app, State: { StartedAt: "2026-12-01T13:01:03.5+01:00" } });
    expect(offset.container?.startTime).toStrictEqual(
      create(PodSchema, { container: { startTime: { seconds: 1796126463n, nanos: 500_000_000 } } }).container
        ?.startTime,
    );
  });

  it("privileged containers carry security_context.privileged", () => {
    expect(podFromLibpod(app).container?.securityContext).toBeUndefined();
    const priv = podFromLibpod({ ...app, HostConfig: { Privileged: true } });
    expect(priv.container?.securityContext?.privileged).toBe(true);
  });

  it("a pod with Kubernetes' pod-template-hash is its Deployment's workload", () => {
    const pod = podFromLibpod(
      { ...app, Config: { Labels: { "pod-template-hash": "54bb8475cc" } } },
      { ...xwing, Name: "deathstar-54bb8475cc-6c6lc" },
    );
    expect([pod.workload, pod.workloadKind]).toStrictEqual(["deathstar", "Deployment"]);
    // The label alone, without the name pattern, proves nothing.
    const odd = podFromLibpod({ ...app, Config: { Labels: { "pod-template-hash": "54bb8475cc" } } }, xwing);
    expect([odd.workload, odd.workloadKind]).toStrictEqual(["xwing", "Pod"]);
  });
});

describe("PodmanPodInfoSource without podman", () => {
  it("starts, answers nothing and counts the failures when the socket does not exist", async () => {
    const source = await PodmanPodInfoSource.start({ socketPath: "/nonexistent/podman.sock" });
    try {
      expect(source.kind).toBe("podman");
      expect(source.lookup("a".repeat(64))).toBeUndefined();
      await expect(source.refresh("a".repeat(64))).resolves.toBeUndefined();
      expect(source.stats).toMatchObject({ connected: false, containers: 0 });
      expect(source.stats.apiErrors).toBeGreaterThanOrEqual(2); // the event stream and the refresh
    } finally {
      await source.close();
    }
  });
});
