import { readFileSync } from "node:fs";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { PodSchema } from "@nsguard/sdk";
import { StaticPodInfoSource } from "./container/pod-info.js";

/**
 * Pod metadata from a JSON file (`--pod-info-file`): container id → pod. A stand-in for the
 * Kubernetes pod informer where no API server exists (these machines, the demo, tests): it feeds
 * the same PodInfoSource interface a Kubernetes implementation would.
 */
interface PodInfoFileEntry {
  namespace: string;
  name: string;
  uid?: string;
  containerId: string;
  containerName: string;
  image?: { id?: string; name?: string };
  containerStartTime?: string;
  labels?: Record<string, string>;
  workload?: string;
  workloadKind?: string;
}

export function loadPodInfoFile(path: string): StaticPodInfoSource {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new Error(`cannot read pod info file ${path}: ${(err as Error).message}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new Error(`pod info file ${path}: expected an object keyed by container id`);
  }
  const source = new StaticPodInfoSource();
  for (const [key, value] of Object.entries(parsed)) {
    if (key.startsWith("_")) continue; // comments
    const e = value as PodInfoFileEntry;
    if (!e?.namespace || !e.name || !e.containerId || !e.containerName) {
      throw new Error(
        `pod info file ${path}: entry ${key} needs namespace, name, containerId and containerName`,
      );
    }
    source.add(
      create(PodSchema, {
        namespace: e.namespace,
        name: e.name,
        uid: e.uid ?? "",
        podLabels: e.labels ?? {},
        workload: e.workload ?? "",
        workloadKind: e.workloadKind ?? "",
        container: {
          id: e.containerId,
          name: e.containerName,
          image: e.image ? { id: e.image.id ?? "", name: e.image.name ?? "" } : undefined,
          startTime: e.containerStartTime ? timestampFromDate(new Date(e.containerStartTime)) : undefined,
        },
      }),
    );
  }
  return source;
}
