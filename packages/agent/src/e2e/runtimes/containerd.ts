import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import { type CriConnection, connectCri } from "../../container/cri/cri-client.js";
import {
  NamespaceMode,
  type PodSandboxConfig,
  PodSandboxConfigSchema,
  type RuntimeService,
} from "../../gen/runtime/v1/api_pb.js";
import { writeBusyboxRootfsTar } from "./busybox-rootfs.js";

/**
 * A private containerd with its CRI plugin, for root-tier tests against the real runtime
 * (container-runtimes.md §3). Everything lives under `dir`: root, state, sockets, the opt
 * plugin's path, the CNI conf dir (left empty: pods use the NODE network namespace, so no CNI
 * plugin ever runs and the host network is untouched). Pod cgroups go under a parent unique to
 * this instance, so concurrent instances (other helpers' tests) never share a cgroup directory.
 */

/** The image every pod and container runs (busybox-static, imported without a registry). */
export const BUSYBOX_IMAGE = "localhost/nsguard-busybox:1";
const BUSYBOX_REPO = "localhost/nsguard-busybox";
const SHIM_DIR = "/run/containerd/s";

export interface PodOptions {
  name: string;
  namespace: string;
  uid: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  privileged?: boolean;
  /** Share the host's pid namespace (`hostPID: true`): the container can name host pids. */
  hostPid?: boolean;
}

export interface ContainerOptions {
  name: string;
  /** Default {@link BUSYBOX_IMAGE}. */
  image?: string;
  command: string[];
  privileged?: boolean;
  labels?: Record<string, string>;
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface ImageDigests {
  /** The manifest digest (`sha256:<hex>`): what `<repo>@<digest>` names. */
  manifest: string;
  /** The config digest: the image id. */
  config: string;
}

export class TestContainerd {
  /** The CRI client, over this instance's socket. */
  readonly cri: Client<typeof RuntimeService>;
  readonly #connection: CriConnection;
  /** `/<unique>`: every pod's cgroup parent is below it. */
  readonly cgroupParent: string;
  readonly #sandboxes = new Map<string, PodSandboxConfig>();
  /** containerd 1.6 puts shim sockets in /run/containerd/s whatever its config says. */
  readonly #createdShimDir = !existsSync(SHIM_DIR);
  #daemon: ChildProcess | undefined;

  private constructor(
    readonly dir: string,
    readonly socketPath: string,
    readonly image: ImageDigests,
    daemon: ChildProcess,
  ) {
    this.#daemon = daemon;
    this.#connection = connectCri(socketPath);
    this.cri = this.#connection.runtime;
    this.cgroupParent = `/nsguard-cri-${randomBytes(4).toString("hex")}`;
  }

  /** Starts containerd in `dir` (an empty scratch directory) and imports {@link BUSYBOX_IMAGE}. */
  static async start(dir: string): Promise<TestContainerd> {
    const socketPath = join(dir, "containerd.sock");
    mkdirSync(join(dir, "cni"), { recursive: true });
    writeFileSync(join(dir, "config.toml"), configToml(dir, socketPath));
    const daemon = await spawnContainerd(dir, socketPath);
    try {
      const instance = new TestContainerd(dir, socketPath, importBusyboxImage(dir, socketPath), daemon);
      await instance.#criReady();
      return instance;
    } catch (err) {
      daemon.kill("SIGKILL");
      throw err;
    }
  }

  /** `<repo>@sha256:<manifest digest>`: the CRI image_ref of {@link BUSYBOX_IMAGE}. */
  get imageRef(): string {
    return `${BUSYBOX_REPO}@${this.image.manifest}`;
  }

  /** RunPodSandbox with the NODE network namespace (no CNI); returns the sandbox id. */
  async runPod(pod: PodOptions): Promise<string> {
    const config = create(PodSandboxConfigSchema, {
      metadata: { name: pod.name, namespace: pod.namespace, uid: pod.uid, attempt: 0 },
      // Empty: with the NODE network namespace there is no private UTS namespace to name.
      hostname: "",
      labels: pod.labels ?? {},
      annotations: pod.annotations ?? {},
      linux: {
        cgroupParent: `${this.cgroupParent}/pod${pod.uid}`,
        securityContext: {
          privileged: pod.privileged ?? false,
          namespaceOptions: {
            network: NamespaceMode.NODE,
            pid: pod.hostPid ? NamespaceMode.NODE : NamespaceMode.POD,
            ipc: NamespaceMode.POD,
          },
        },
      },
    });
    const { podSandboxId } = await this.cri.runPodSandbox({ config });
    this.#sandboxes.set(podSandboxId, config);
    return podSandboxId;
  }

  /** CreateContainer + StartContainer in `sandboxId`; returns the 64-hex container id. */
  async createContainer(sandboxId: string, options: ContainerOptions): Promise<string> {
    const sandboxConfig = this.#sandboxes.get(sandboxId);
    if (!sandboxConfig) throw new Error(`sandbox ${sandboxId} was not started by this instance`);
    const namespaceOptions = sandboxConfig.linux?.securityContext?.namespaceOptions;
    const { containerId } = await this.cri.createContainer({
      podSandboxId: sandboxId,
      sandboxConfig,
      config: {
        metadata: { name: options.name, attempt: 0 },
        image: { image: options.image ?? BUSYBOX_IMAGE },
        command: options.command,
        labels: options.labels ?? {},
        linux: {
          securityContext: {
            privileged: options.privileged ?? false,
            // kubelet passes the pod's namespace modes down to each container.
            namespaceOptions: {
              network: namespaceOptions?.network,
              pid:
                namespaceOptions?.pid === NamespaceMode.NODE ? NamespaceMode.NODE : NamespaceMode.CONTAINER,
              ipc: namespaceOptions?.ipc,
            },
          },
        },
      },
    });
    await this.cri.startContainer({ containerId });
    return containerId;
  }

  async execSync(containerId: string, argv: string[], timeoutSeconds = 10): Promise<ExecResult> {
    const res = await this.cri.execSync({ containerId, cmd: argv, timeout: BigInt(timeoutSeconds) });
    const text = new TextDecoder();
    return { exitCode: res.exitCode, stdout: text.decode(res.stdout), stderr: text.decode(res.stderr) };
  }

  async stopContainer(containerId: string): Promise<void> {
    await this.cri.stopContainer({ containerId, timeout: 0n });
  }

  async removeContainer(containerId: string): Promise<void> {
    await this.cri.removeContainer({ containerId });
  }

  /** Stops and removes a sandbox and its containers. */
  async removePod(sandboxId: string): Promise<void> {
    await this.cri.stopPodSandbox({ podSandboxId: sandboxId });
    await this.cri.removePodSandbox({ podSandboxId: sandboxId });
    this.#sandboxes.delete(sandboxId);
  }

  /** Starts the daemon again on the same state after {@link stopDaemon} (a runtime restart). */
  async startDaemon(): Promise<void> {
    if (this.#daemon) return;
    this.#daemon = await spawnContainerd(this.dir, this.socketPath);
    await this.#criReady();
  }

  /** The socket is up before the CRI plugin has recovered its state ("server is not initialized yet"). */
  async #criReady(): Promise<void> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      try {
        await this.cri.version({});
        return;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  /** Stops the daemon; its containers' shims keep running, as on a real runtime restart. */
  async stopDaemon(): Promise<void> {
    const daemon = this.#daemon;
    if (!daemon) return;
    this.#daemon = undefined;
    if (daemon.exitCode !== null || daemon.signalCode !== null) return; // died on its own
    const exited = new Promise((resolve) => daemon.once("exit", resolve));
    daemon.kill("SIGTERM");
    await exited;
  }

  /**
   * Removes every sandbox this instance started (their containers go with them), stops the
   * daemon, removes the cgroup directories under {@link cgroupParent} in every hierarchy and
   * unmounts whatever is still mounted under `dir`. Safe to call more than once.
   */
  async stop(): Promise<void> {
    const failures: unknown[] = [];
    if (this.#daemon) {
      for (const id of [...this.#sandboxes.keys()]) {
        await this.removePod(id).catch((err: unknown) => failures.push(err));
      }
    }
    this.#connection.close();
    await this.stopDaemon();
    // Whatever the runtime did not clean up (a failed removal, a daemon that died): this
    // instance's shims and every process in its cgroups.
    const leftovers = killShimsOf(this.socketPath) + killCgroupTree(this.cgroupParent);
    if (leftovers > 0) await new Promise((r) => setTimeout(r, 200));
    removeCgroupTree(this.cgroupParent);
    unmountUnder(this.dir);
    if (this.#createdShimDir) removeEmptyShimDir();
    if (failures.length > 0 || leftovers > 0) {
      throw new AggregateError(failures, `containerd cleanup: ${leftovers} processes had to be killed`);
    }
  }
}

function configToml(dir: string, socketPath: string): string {
  // Version 2 layout of containerd 1.6 (container-runtimes.md §3).
  return `version = 2
root = "${join(dir, "root")}"
state = "${join(dir, "state")}"

[grpc]
  address = "${socketPath}"

[ttrpc]
  address = "${socketPath}.ttrpc"

[debug]
  address = ""

[metrics]
  address = ""

# Without a path the opt plugin creates /opt/containerd.
[plugins."io.containerd.internal.v1.opt"]
  path = "${join(dir, "opt")}"

[plugins."io.containerd.grpc.v1.cri"]
  # CRI sets the sandbox's oom_score_adj to -998; lowering it needs CAP_SYS_RESOURCE, which this
  # machine's root lacks.
  restrict_oom_score_adj = true
  # The sandbox ("pause") container runs the imported busybox image's CMD (sleep infinity):
  # nothing is pulled.
  sandbox_image = "${BUSYBOX_IMAGE}"
  # An ephemeral port: another instance may run at the same time.
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"

  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"

    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"

      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        # runc's state; its default is /run/containerd/runc.
        Root = "${join(dir, "runc")}"

  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${join(dir, "cni")}"
`;
}

async function spawnContainerd(dir: string, socketPath: string): Promise<ChildProcess> {
  const log = join(dir, "containerd.log");
  // A socket left by a killed daemon would look like a ready one.
  rmSync(socketPath, { force: true });
  const logFd = openSync(log, "a");
  const daemon = spawn("containerd", ["--config", join(dir, "config.toml")], {
    stdio: ["ignore", "ignore", logFd],
  });
  closeSync(logFd);
  try {
    await waitForSocket(socketPath, daemon, log);
  } catch (err) {
    daemon.kill("SIGKILL");
    throw err;
  }
  return daemon;
}

async function waitForSocket(socketPath: string, daemon: ChildProcess, log: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!existsSync(socketPath)) {
    if (daemon.exitCode !== null) {
      throw new Error(`containerd exited (${daemon.exitCode}): ${readFileSync(log, "utf8").slice(-2000)}`);
    }
    if (Date.now() > deadline) throw new Error(`containerd did not create ${socketPath} within 15 s`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function sha256(data: Buffer): string {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

/**
 * Writes an OCI image layout archive of the busybox rootfs (one uncompressed layer) and imports
 * it into the CRI's `k8s.io` namespace under {@link BUSYBOX_IMAGE} and under
 * `<repo>@<manifest digest>` — the two names a registry pull leaves behind, from which the CRI
 * reports `image.image` (repo:tag) and `image_ref` (repo@digest) as for a pulled image.
 */
function importBusyboxImage(dir: string, socketPath: string): ImageDigests {
  const work = join(dir, "image");
  mkdirSync(work, { recursive: true });
  const layer = readFileSync(writeBusyboxRootfsTar(work));
  const layout = join(work, "layout");
  const blobs = join(layout, "blobs", "sha256");
  mkdirSync(blobs, { recursive: true });
  const putBlob = (data: Buffer): { digest: string; size: number } => {
    const digest = sha256(data);
    writeFileSync(join(blobs, digest.slice("sha256:".length)), data);
    return { digest, size: data.length };
  };
  const layerBlob = putBlob(layer);
  const configBlob = putBlob(
    Buffer.from(
      JSON.stringify({
        architecture: "amd64",
        os: "linux",
        config: { Env: ["PATH=/bin"], Cmd: ["/bin/sleep", "infinity"] },
        rootfs: { type: "layers", diff_ids: [layerBlob.digest] },
      }),
    ),
  );
  const manifestBlob = putBlob(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        config: { mediaType: "application/vnd.oci.image.config.v1+json", ...configBlob },
        layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", ...layerBlob }],
      }),
    ),
  );
  const manifest = { mediaType: "application/vnd.oci.image.manifest.v1+json", ...manifestBlob };
  writeFileSync(join(layout, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  writeFileSync(
    join(layout, "index.json"),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        { ...manifest, annotations: { "io.containerd.image.name": BUSYBOX_IMAGE } },
        {
          ...manifest,
          annotations: { "io.containerd.image.name": `${BUSYBOX_REPO}@${manifestBlob.digest}` },
        },
      ],
    }),
  );
  const archive = join(work, "image.tar");
  execFileSync("tar", ["-C", layout, "-cf", archive, "."]);
  execFileSync("ctr", ["-a", socketPath, "-n", "k8s.io", "image", "import", archive], { stdio: "pipe" });
  return { manifest: manifestBlob.digest, config: configBlob.digest };
}

/** cgroup v1 controllers and the v2 hierarchy (hybrid layout: container-runtimes.md). */
function cgroupHierarchies(): string[] {
  return readdirSync("/sys/fs/cgroup")
    .map((name) => join("/sys/fs/cgroup", name))
    .filter((path) => {
      try {
        return statSync(path).isDirectory() && existsSync(join(path, "cgroup.procs"));
      } catch {
        return false;
      }
    });
}

/** SIGKILLs the shims serving `socketPath` (their `-address` argument); returns how many. */
function killShimsOf(socketPath: string): number {
  let killed = 0;
  for (const pid of readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    } catch {
      continue; // exited
    }
    if (!argv[0]?.endsWith("containerd-shim-runc-v2")) continue;
    const arg = (name: string) => argv[argv.indexOf(name) + 1] ?? "";
    if (arg("-address") !== socketPath) continue;
    process.kill(Number(pid), "SIGKILL");
    // A killed shim leaves its socket: containerd 1.6 names it sha256(<address>/<ns>/<id>).
    const name = createHash("sha256")
      .update(join(socketPath, arg("-namespace"), arg("-id")))
      .digest("hex");
    rmSync(join(SHIM_DIR, name), { force: true });
    killed++;
  }
  return killed;
}

/** SIGKILLs every process in the cgroup tree `parent` (any hierarchy has them all); returns how many. */
function killCgroupTree(parent: string): number {
  let killed = 0;
  const walk = (path: string) => {
    if (!existsSync(path)) return;
    for (const entry of readdirSync(path, { withFileTypes: true })) {
      if (entry.isDirectory()) walk(join(path, entry.name));
    }
    for (const pid of readFileSync(join(path, "cgroup.procs"), "utf8").split("\n").filter(Boolean)) {
      try {
        process.kill(Number(pid), "SIGKILL");
        killed++;
      } catch {
        // exited meanwhile
      }
    }
  };
  const tree = cgroupHierarchies()
    .map((hierarchy) => join(hierarchy, parent))
    .find((path) => existsSync(path));
  if (tree) walk(tree);
  return killed;
}

/** rmdir the cgroup `parent` bottom-up in every hierarchy (cgroup dirs cannot be rm -r'd). */
function removeCgroupTree(parent: string): void {
  const rmTree = (path: string) => {
    if (!existsSync(path)) return;
    for (const entry of readdirSync(path, { withFileTypes: true })) {
      if (entry.isDirectory()) rmTree(join(path, entry.name));
    }
    try {
      rmdirSync(path);
    } catch {
      // still has processes (a shim that did not exit): leave it rather than fail cleanup
    }
  };
  for (const hierarchy of cgroupHierarchies()) rmTree(join(hierarchy, parent));
}

/** Lazily unmounts everything mounted below `dir` (snapshots, shm, rootfs of killed tasks). */
function unmountUnder(dir: string): void {
  const mounts = readFileSync("/proc/self/mounts", "utf8")
    .split("\n")
    .map((line) => line.split(" ")[1] ?? "")
    .filter((target) => target.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const target of mounts) {
    try {
      execFileSync("umount", ["-l", target], { stdio: "ignore" });
    } catch {
      // already gone
    }
  }
  rmSync(dir, { recursive: true, force: true });
}

/** rmdir, not rm -r: another instance running now may have a shim socket in there. */
function removeEmptyShimDir(): void {
  for (const path of [SHIM_DIR, "/run/containerd"]) {
    try {
      rmdirSync(path);
    } catch {
      return; // not empty: in use by another containerd
    }
  }
}
