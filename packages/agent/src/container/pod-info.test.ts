import { create } from "@bufbuild/protobuf";
import { PodSchema } from "@nsguard/sdk";
import { describe, expect, it } from "vitest";
import { podForProcess, StaticPodInfoSource } from "./pod-info.js";

const ID = "057dc8d712abf96c628c82ea111d53a205a256b0dc39bb31284426aaf378acbc";
// Same first 15 characters as ID: lands in the same index bucket.
const SIBLING = "057dc8d712abf96ffffffffffffffffffffffffffffffffffffffffffffffff0";

const xwing = create(PodSchema, {
  namespace: "default",
  name: "xwing",
  container: { id: `containerd://${ID}`, name: "spaceship" },
  podLabels: { class: "xwing" },
  workload: "xwing",
  workloadKind: "Pod",
});

describe("StaticPodInfoSource", () => {
  it("finds a pod by full id, qualified id, or Tetragon's 31-char docker prefix", () => {
    const source = new StaticPodInfoSource([xwing]);
    expect(source.lookup(ID)?.name).toBe("xwing");
    expect(source.lookup(`containerd://${ID}`)?.name).toBe("xwing");
    expect(source.lookup(ID.slice(0, 31))?.container?.id).toBe(`containerd://${ID}`);
  });

  it("misses unknown ids and empty ids", () => {
    const source = new StaticPodInfoSource([xwing]);
    expect(source.lookup("f".repeat(64))).toBeUndefined();
    expect(source.lookup("")).toBeUndefined();
  });

  it("refuses ambiguous prefixes but still resolves unique ones in the same bucket", () => {
    const other = create(PodSchema, { name: "tiefighter", container: { id: SIBLING } });
    const source = new StaticPodInfoSource([xwing, other]);
    expect(source.lookup(ID.slice(0, 15))).toBeUndefined();
    expect(source.lookup(ID.slice(0, 31))?.name).toBe("xwing");
    expect(source.lookup(SIBLING.slice(0, 31))?.name).toBe("tiefighter");
  });

  it("returns copies, so callers can fill per-process fields", () => {
    const source = new StaticPodInfoSource([xwing]);
    const a = source.lookup(ID);
    if (a?.container) a.container.name = "changed";
    expect(source.lookup(ID)?.container?.name).toBe("spaceship");
  });

  it("replaces and removes entries", () => {
    const source = new StaticPodInfoSource([xwing]);
    source.add(create(PodSchema, { name: "xwing-2", container: { id: ID } }));
    expect(source.size).toBe(1);
    expect(source.lookup(ID.slice(0, 31))?.name).toBe("xwing-2");
    expect(source.remove(`containerd://${ID}`)).toBe(true);
    expect(source.lookup(ID)).toBeUndefined();
    expect(source.remove(ID)).toBe(false);
  });

  it("tells listeners about every container it learns or updates, by bare id", () => {
    const source = new StaticPodInfoSource();
    const heard: string[] = [];
    const stop = source.onUpdate((id) => heard.push(id));
    source.add(create(PodSchema, { name: "xwing", container: { id: `containerd://${ID}` } }));
    source.add(create(PodSchema, { name: "xwing-2", container: { id: ID } }));
    stop();
    source.add(create(PodSchema, { name: "xwing-3", container: { id: ID } }));
    expect(heard).toStrictEqual([ID, ID]);
  });

  it("requires a container id", () => {
    expect(() => new StaticPodInfoSource([create(PodSchema, { name: "bare" })])).toThrow(/container.id/);
  });
});

describe("podForProcess", () => {
  it("sets the pid inside the container, and leaves it out for 0", () => {
    expect(podForProcess(xwing, 37).container?.pid).toBe(37);
    expect(podForProcess(xwing, 0).container?.pid).toBeUndefined();
    expect(xwing.container?.pid).toBeUndefined();
  });
});
