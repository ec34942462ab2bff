import type { Pod } from "@nsguard/sdk";
import type { PodInfoSource } from "./pod-info.js";

/**
 * Several pod sources as one (e.g. `--pod-info-file` next to a podman found on the host): the
 * first source that knows a container answers, in the order given.
 */
export class CombinedPodInfoSource implements PodInfoSource {
  readonly kind: string;
  readonly #sources: readonly PodInfoSource[];

  constructor(sources: readonly PodInfoSource[]) {
    this.#sources = sources;
    this.kind = sources.map((s) => s.kind).join("+");
  }

  lookup(containerId: string): Pod | undefined {
    for (const source of this.#sources) {
      const pod = source.lookup(containerId);
      if (pod) return pod;
    }
    return undefined;
  }

  onUpdate(listener: (containerId: string) => void): () => void {
    const stops = this.#sources.map((s) => s.onUpdate?.(listener));
    return () => {
      for (const stop of stops) stop?.();
    };
  }

  async refresh(containerId: string): Promise<void> {
    await Promise.all(this.#sources.map((s) => s.refresh?.(containerId)));
  }

  async close(): Promise<void> {
    await Promise.all(this.#sources.map((s) => s.close?.()));
  }
}
