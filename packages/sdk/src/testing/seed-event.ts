import { create } from "@bufbuild/protobuf";
import { TimestampSchema } from "@bufbuild/protobuf/wkt";
import type { GetEventsResponse } from "../gen/tetragon/events_pb.js";
import { GetEventsResponseSchema } from "../gen/tetragon/events_pb.js";
import type { Process } from "../gen/tetragon/tetragon_pb.js";
import {
  KprobeAction,
  KprobeArgumentSchema,
  PodSchema,
  ProcessKprobeSchema,
  ProcessSchema,
} from "../gen/tetragon/tetragon_pb.js";

/**
 * The process_kprobe event of spec/seed-namespace-access.md, verbatim (the JSON that
 * `tetra getevents` printed for `nsenter -t 1 -m -u -n -i -p` in pod default/xwing).
 */
export const seedEventJson = {
  process_kprobe: {
    process: {
      exec_id: "dGV0cmFnb24tZGV2LWNvbnRyb2wtcGxhbmU6MTE2OTc3OTA1NDM0MjAxOjYzMDY2",
      pid: 63066,
      uid: 0,
      cwd: "/",
      binary: "/usr/bin/nsenter",
      arguments: "-t 1 -m -u -n -i -p",
      flags: "execve rootcwd clone",
      start_time: "2026-01-30T18:15:19.985627895Z",
      auid: 4294967295,
      pod: {
        namespace: "default",
        name: "xwing",
        container: {
          id: "containerd://057dc8d712abf96c628c82ea111d53a205a256b0dc39bb31284426aaf378acbc",
          name: "spaceship",
          image: {
            id: "quay.io/cilium/json-mock@sha256:5aad04835eda9025fe4561ad31be77fd55309af8158ca8663a72f6abb78c2603",
            name: "quay.io/cilium/json-mock:latest",
          },
          start_time: "2026-01-28T08:51:07Z",
          pid: 37,
        },
        pod_labels: { "app.kubernetes.io/name": "xwing", class: "xwing", org: "alliance" },
        workload: "xwing",
        workload_kind: "Pod",
      },
      docker: "057dc8d712abf96c628c82ea111d53a",
      parent_exec_id: "dGV0cmFnb24tZGV2LWNvbnRyb2wtcGxhbmU6MTE2OTc3NzI5OTA3MzUxOjYzMDUy",
      refcnt: 1,
      tid: 63066,
    },
    parent: {
      exec_id: "dGV0cmFnb24tZGV2LWNvbnRyb2wtcGxhbmU6MTE2OTc3NzI5OTA3MzUxOjYzMDUy",
      pid: 63052,
      uid: 0,
      cwd: "/",
      binary: "/bin/bash",
      flags: "execve rootcwd clone",
      start_time: "2026-01-30T18:15:19.810100966Z",
      auid: 4294967295,
      pod: {
        namespace: "default",
        name: "xwing",
        container: {
          id: "containerd://057dc8d712abf96c628c82ea111d53a205a256b0dc39bb31284426aaf378acbc",
          name: "spaceship",
          image: {
            id: "quay.io/cilium/json-mock@sha256:5aad04835eda9025fe4561ad31be77fd55309af8158ca8663a72f6abb78c2603",
            name: "quay.io/cilium/json-mock:latest",
          },
          start_time: "2026-01-28T08:51:07Z",
          pid: 31,
        },
        pod_labels: { "app.kubernetes.io/name": "xwing", class: "xwing", org: "alliance" },
        workload: "xwing",
        workload_kind: "Pod",
      },
      docker: "057dc8d712abf96c628c82ea111d53a",
      parent_exec_id: "dGV0cmFnb24tZGV2LWNvbnRyb2wtcGxhbmU6ODgzNjQ2NzQwMjg6NzIxMQ==",
      tid: 63052,
    },
    function_name: "__x64_sys_setns",
    args: [{ int_arg: 3 }, { int_arg: 134217728 }],
    action: "KPROBE_ACTION_POST",
    policy_name: "namespace-access",
    return_action: "KPROBE_ACTION_POST",
  },
  node_name: "tetragon-dev-control-plane",
  time: "2026-01-30T18:15:20.001042828Z",
};

function ts(seconds: number, nanos: number) {
  return create(TimestampSchema, { seconds: BigInt(seconds), nanos });
}

function xwingPod(containerPid: number) {
  return create(PodSchema, {
    namespace: "default",
    name: "xwing",
    container: {
      id: "containerd://057dc8d712abf96c628c82ea111d53a205a256b0dc39bb31284426aaf378acbc",
      name: "spaceship",
      image: {
        id: "quay.io/cilium/json-mock@sha256:5aad04835eda9025fe4561ad31be77fd55309af8158ca8663a72f6abb78c2603",
        name: "quay.io/cilium/json-mock:latest",
      },
      startTime: ts(Date.UTC(2026, 0, 28, 8, 51, 7) / 1000, 0),
      pid: containerPid,
    },
    podLabels: { "app.kubernetes.io/name": "xwing", class: "xwing", org: "alliance" },
    workload: "xwing",
    workloadKind: "Pod",
  });
}

/** The nsenter process of the seed event. */
export function seedProcess(): Process {
  return create(ProcessSchema, {
    execId: "dGV0cmFnb24tZGV2LWNvbnRyb2wtcGxhbmU6MTE2OTc3OTA1NDM0MjAxOjYzMDY2",
    pid: 63066,
    uid: 0,
    cwd: "/",
    binary: "/usr/bin/nsenter",
    arguments: "-t 1 -m -u -n -i -p",
    flags: "execve rootcwd clone",
    startTime: ts(Date.UTC(2026, 0, 30, 18, 15, 19) / 1000, 985627895),
    auid: 4294967295,
    pod: xwingPod(37),
    docker: "057dc8d712abf96c628c82ea111d53a",
    parentExecId: "dGV0cmFnb24tZGV2LWNvbnRyb2wtcGxhbmU6MTE2OTc3NzI5OTA3MzUxOjYzMDUy",
    refcnt: 1,
    tid: 63066,
  });
}

/** The bash parent of the seed event. */
export function seedParent(): Process {
  return create(ProcessSchema, {
    execId: "dGV0cmFnb24tZGV2LWNvbnRyb2wtcGxhbmU6MTE2OTc3NzI5OTA3MzUxOjYzMDUy",
    pid: 63052,
    uid: 0,
    cwd: "/",
    binary: "/bin/bash",
    flags: "execve rootcwd clone",
    startTime: ts(Date.UTC(2026, 0, 30, 18, 15, 19) / 1000, 810100966),
    auid: 4294967295,
    pod: xwingPod(31),
    docker: "057dc8d712abf96c628c82ea111d53a",
    parentExecId: "dGV0cmFnb24tZGV2LWNvbnRyb2wtcGxhbmU6ODgzNjQ2NzQwMjg6NzIxMQ==",
    tid: 63052,
  });
}

/** The seed event built field by field as a message (not parsed from JSON). */
export function seedEvent(): GetEventsResponse {
  return create(GetEventsResponseSchema, {
    event: {
      case: "processKprobe",
      value: create(ProcessKprobeSchema, {
        process: seedProcess(),
        parent: seedParent(),
        functionName: "__x64_sys_setns",
        args: [
          create(KprobeArgumentSchema, { arg: { case: "intArg", value: 3 } }),
          create(KprobeArgumentSchema, { arg: { case: "intArg", value: 134217728 } }),
        ],
        action: KprobeAction.POST,
        policyName: "namespace-access",
        returnAction: KprobeAction.POST,
      }),
    },
    nodeName: "tetragon-dev-control-plane",
    time: ts(Date.UTC(2026, 0, 30, 18, 15, 20) / 1000, 1042828),
  });
}
