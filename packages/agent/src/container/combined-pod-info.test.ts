import { create } from "@bufbuild/protobuf";
import { PodSchema } from "@nsguard/sdk";
import { describe, expect, it } from "vitest";
import { CombinedPodInfoSource } from "./combined-pod-info.js";
import { type PodInfoSource, StaticPodInfoSource } from "./pod-info.js";

const A = "a".repeat(64);
const B = "b".repeat(64);
const pod = (name: string, id: string) => create(PodSchema, { name, container: { id } });

describe("CombinedPodInfoSource", () => {
  it("answers from the first source that knows the container", () => {
    const file = new StaticPodInfoSource([pod("from-file", A)]);
    const other = new StaticPodInfoSource([pod("shadowed", A), pod("from-other", B)]);
    const both = new CombinedPodInfoSource([file, other]);
    expect(both.kind).toBe("file+file");
    expect(both.lookup(A)?.name).toBe("from-file");
    expect(both.lookup(B.slice(0, 31))?.name).toBe("from-other");
    expect(both.lookup("c".repeat(64))).toBeUndefined();
  });

  it("passes on every source's updates", () => {
    const file = new StaticPodInfoSource();
    const other = new StaticPodInfoSource();
    const heard: string[] = [];
    const stop = new CombinedPodInfoSource([file, other]).onUpdate((id) => heard.push(id));
    file.add(pod("a", A));
    other.add(pod("b", B));
    stop();
    file.add(pod("a2", A));
    expect(heard).toStrictEqual([A, B]);
  });

  it("refreshes and closes every source that can", async () => {
    const calls: string[] = [];
    const live: PodInfoSource = {
      kind: "podman",
      lookup: () => undefined,
      refresh: async (id) => {
        calls.push(`refresh ${id}`);
      },
      close: async () => {
        calls.push("close");
      },
    };
    const both = new CombinedPodInfoSource([new StaticPodInfoSource(), live]);
    await both.refresh(A);
    await both.close();
    expect(calls).toStrictEqual([`refresh ${A}`, "close"]);
  });
});
