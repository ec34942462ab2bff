import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeBusyboxRootfsTar } from "./busybox-rootfs.js";

/**
 * A private podman for root-tier tests: every piece of state (storage, runroot, locks, events log,
 * network config, API socket) lives in one scratch directory, so tests of several helpers can run
 * podman at the same time without seeing each other's pods. The configuration is the one that
 * works on these machines (container-runtimes.md §1): runc (crun 1.8 refuses the hybrid cgroup
 * layout), default ulimits at or below the hard limits (raising them needs CAP_SYS_RESOURCE, which
 * root lacks here), cgroupfs, file events logger, file locks (the default SHM locks are one
 * host-wide segment shared by every podman), and `--network none` (no iptables / ip_forward side
 * effects).
 *
 * Measured here (2 noisy cores): start() ≈ 1.3–1.4 s (rootfs tar + `podman import` 1.1–1.3 s, the
 * API service up in 0.16 s); `pod create` + `run` ≈ 0.5 s; `exec` ≈ 0.1–0.15 s. Several harnesses
 * may run at once (the root tests start two).
 *
 * Two host paths stay shared because podman 4.3 has no setting for them: the empty
 * /run/containers/networks (netavark's run dir) and the blob-info cache in
 * /var/lib/containers/cache (c/image's, written by `podman import`). cleanup() leaves them, since
 * another podman may be using them.
 */

/** The busybox-static image every test container runs. */
export const PODMAN_TEST_IMAGE = "localhost/nsguard-bb:1";

/** cgroup v1 hierarchies and the v2 mount that runc populates (container-runtimes.md §1). */
const CGROUP_ROOTS = [
  "blkio",
  "cpu",
  "cpuacct",
  "cpuset",
  "devices",
  "freezer",
  "memory",
  "pids",
  "systemd",
  "unified",
].map((h) => `/sys/fs/cgroup/${h}`);

export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface RunOptions {
  name: string;
  /** Pod name (or id) to join; the container then shares the pod's network namespace. */
  pod?: string;
  labels?: Record<string, string>;
  privileged?: boolean;
  /** `--pid host`: the container sees host pids (what an nsenter escape needs). */
  pidHost?: boolean;
  /** Default: sleep forever (with {@link image}: the image's own command). */
  command?: string[];
  /** Default: the busybox test image ({@link PODMAN_TEST_IMAGE}). */
  image?: string;
  /** More `podman run` options (mounts, env, limits …), before the image. */
  runArgs?: string[];
}

export interface RunningContainer {
  /** 64 hex characters. */
  id: string;
  name: string;
  /** Host pid of the container's init process. */
  pid: number;
  /** `/libpod_parent/[<podid>/]libpod-<id>` (the same in every hierarchy). */
  cgroupPath: string;
}

export interface PodmanHarnessOptions {
  /** containers.conf `events_logger`: "file" (default) or "none" (podman then announces nothing). */
  eventsLogger?: "file" | "none";
}

export interface PodmanSetupTimings {
  /** Writing the rootfs tar and `podman import`. */
  imageMs: number;
  /** Spawning `podman system service` until `_ping` answers. */
  serviceMs: number;
  totalMs: number;
}

export class PodmanHarness {
  /** The API socket of this harness's `podman system service`. */
  readonly socketPath: string;
  /** Short random tag of this run, for names that must be unique across concurrent runs. */
  readonly runTag = randomBytes(3).toString("hex");
  readonly timings: PodmanSetupTimings = { imageMs: 0, serviceMs: 0, totalMs: 0 };
  readonly #scratch: string;
  readonly #env: NodeJS.ProcessEnv;
  #service: ChildProcess | undefined;
  readonly #cgroups = new Set<string>();
  readonly #netns = new Set<string>();
  readonly #hadLibpodParent = CGROUP_ROOTS.map((root) => existsSync(join(root, "libpod_parent")));

  private constructor(scratch: string, options: PodmanHarnessOptions) {
    this.#scratch = scratch;
    this.socketPath = join(scratch, "podman.sock");
    const tmp = join(scratch, "libpod-tmp");
    const networks = join(scratch, "networks");
    mkdirSync(tmp);
    mkdirSync(networks);
    const containersConf = join(scratch, "containers.conf");
    writeFileSync(
      containersConf,
      [
        "[containers]",
        'default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]',
        "[engine]",
        'runtime = "runc"',
        'cgroup_manager = "cgroupfs"',
        `events_logger = "${options.eventsLogger ?? "file"}"`,
        'lock_type = "file"',
        `tmp_dir = "${tmp}"`,
        "[network]",
        `network_config_dir = "${networks}"`,
        "",
      ].join("\n"),
    );
    const storageConf = join(scratch, "storage.conf");
    writeFileSync(
      storageConf,
      [
        "[storage]",
        'driver = "overlay"',
        `graphroot = "${join(scratch, "graphroot")}"`,
        `runroot = "${join(scratch, "runroot")}"`,
        "",
      ].join("\n"),
    );
    this.#env = {
      ...process.env,
      CONTAINERS_CONF: containersConf,
      CONTAINERS_STORAGE_CONF: storageConf,
      // Keep podman away from the user's registries/policy and any XDG overrides.
      XDG_RUNTIME_DIR: tmp,
    };
  }

  /** Scratch storage, the test image imported, and the API service answering `_ping`. */
  static async start(options: PodmanHarnessOptions = {}): Promise<PodmanHarness> {
    const t0 = performance.now();
    const harness = new PodmanHarness(mkdtempSync(join(tmpdir(), "nsguard-podman-")), options);
    try {
      const tar = writeBusyboxRootfsTar(harness.#scratch);
      await harness.podman(["import", "--change", "ENV PATH=/bin", tar, PODMAN_TEST_IMAGE]);
      const t1 = performance.now();
      await harness.startService();
      const t2 = performance.now();
      harness.timings.imageMs = t1 - t0;
      harness.timings.serviceMs = t2 - t1;
      harness.timings.totalMs = t2 - t0;
      return harness;
    } catch (err) {
      await harness.cleanup();
      throw err;
    }
  }

  /** Runs podman with this harness's configuration; rejects (with stderr) on a non-zero exit. */
  async podman(args: string[]): Promise<string> {
    const result = await this.#podmanResult(args);
    if (result.code !== 0) {
      throw new Error(`podman ${args.join(" ")} exited ${result.code}: ${result.stderr.trim()}`);
    }
    return result.stdout;
  }

  #podmanResult(args: string[]): Promise<ExecResult> {
    return new Promise((resolve) => {
      execFile("podman", args, { env: this.#env, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
        resolve({ stdout, stderr: err && !stderr ? err.message : stderr, code });
      });
    });
  }

  /** Starts `podman system service` on {@link socketPath} (again, after {@link stopService}). */
  async startService(): Promise<void> {
    if (this.#service) return;
    rmSync(this.socketPath, { force: true });
    const service = spawn("podman", ["system", "service", "--time=0", `unix://${this.socketPath}`], {
      env: this.#env,
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    service.stderr?.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    this.#service = service;
    const deadline = Date.now() + 20_000;
    while (!(await ping(this.socketPath))) {
      if (service.exitCode !== null || Date.now() > deadline) {
        await this.stopService();
        throw new Error(`podman system service did not come up: ${stderr.trim()}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Stops the API service (containers keep running: conmon owns them). */
  async stopService(): Promise<void> {
    const service = this.#service;
    this.#service = undefined;
    if (!service || service.exitCode !== null) return;
    const exited = new Promise((r) => service.once("exit", r));
    service.kill("SIGTERM");
    const timer = setTimeout(() => service.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
  }

  /** `podman pod create --network none`; returns the pod id. */
  async createPod(options: { name: string; labels?: Record<string, string> }): Promise<string> {
    const id = (
      await this.podman([
        "pod",
        "create",
        "--name",
        options.name,
        "--network",
        "none",
        ...labelArgs(options.labels),
      ])
    ).trim();
    this.#cgroups.add(`/libpod_parent/${id}`);
    return id;
  }

  /** `podman run -d`, then the host pid and cgroup of the container's init. */
  async run(options: RunOptions): Promise<RunningContainer> {
    const args = ["run", "-d", "--name", options.name, ...labelArgs(options.labels)];
    // A pod's containers join its network namespace; only a standalone one needs `none`.
    args.push(...(options.pod ? ["--pod", options.pod] : ["--network", "none"]));
    if (options.privileged) args.push("--privileged");
    if (options.pidHost) args.push("--pid", "host");
    args.push(...(options.runArgs ?? []));
    if (options.image) args.push(options.image, ...(options.command ?? []));
    else args.push(PODMAN_TEST_IMAGE, ...(options.command ?? ["sleep", "infinity"]));
    const id = (await this.podman(args)).trim();
    const [pid, cgroupPath, sandbox] = (
      await this.podman([
        "inspect",
        "-f",
        "{{.State.Pid}} {{.State.CgroupPath}} {{.NetworkSettings.SandboxKey}}",
        id,
      ])
    )
      .trim()
      .split(" ");
    if (!cgroupPath) throw new Error(`podman inspect ${id}: no cgroup path`);
    this.#cgroups.add(cgroupPath);
    if (sandbox) this.#netns.add(sandbox);
    return { id, name: options.name, pid: Number(pid), cgroupPath };
  }

  /** `podman exec`; resolves with the exit code rather than rejecting on failure. */
  exec(name: string, argv: string[]): Promise<ExecResult> {
    return this.#podmanResult(["exec", name, ...argv]);
  }

  /** `podman rm -f -t 0`. */
  async remove(name: string): Promise<void> {
    await this.podman(["rm", "-f", "-t", "0", name]);
  }

  /**
   * Removes everything this harness made: pods, containers, images, the service, the cgroup dirs
   * of its containers and pods (and `libpod_parent` if it did not exist before and is empty),
   * netns bind mounts, storage mounts, then the scratch directory. Never throws: it runs in
   * afterAll, where a failure would hide the test's own.
   */
  async cleanup(): Promise<void> {
    await this.stopService();
    for (const args of [
      ["pod", "rm", "-a", "-f", "-t", "0"],
      ["rm", "-a", "-f", "-t", "0"],
      ["rmi", "-a", "-f"],
    ]) {
      await this.#podmanResult(args);
    }
    const dirs = [...this.#cgroups].sort((a, b) => b.length - a.length); // children first
    for (const root of CGROUP_ROOTS) for (const dir of dirs) removeCgroup(join(root, dir));
    // conmon puts itself in libpod_parent/conmon; both go if this harness created libpod_parent
    // (rmdir fails, harmlessly, while another podman still has something in them).
    CGROUP_ROOTS.forEach((root, i) => {
      if (this.#hadLibpodParent[i]) return;
      removeCgroup(join(root, "libpod_parent", "conmon"));
      removeCgroup(join(root, "libpod_parent"));
    });
    for (const ns of this.#netns) unmount(ns, true);
    // c/storage bind-mounts its overlay directory (and each layer it mounted): deepest first.
    const mounts = mountPointsUnder(this.#scratch).sort((a, b) => b.length - a.length);
    for (const mount of mounts) unmount(mount, false);
    rmSync(this.#scratch, { recursive: true, force: true });
  }
}

function labelArgs(labels: Record<string, string> | undefined): string[] {
  return Object.entries(labels ?? {}).flatMap(([k, v]) => ["--label", `${k}=${v}`]);
}

function ping(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath, path: "/_ping", timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on("error", () => resolve(false));
    req.on("timeout", () => req.destroy());
    req.end();
  });
}

function removeCgroup(dir: string): void {
  try {
    rmdirSync(dir); // cgroup dirs are removed with rmdir (they hold only kernel files)
  } catch {
    // already gone, or still in use by someone else's container: leave it
  }
}

function mountPointsUnder(dir: string): string[] {
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((line) => line.split(" ")[4] ?? "")
    .filter((mount) => mount === dir || mount.startsWith(`${dir}/`));
}

function unmount(path: string, remove: boolean): void {
  if (!existsSync(path)) return;
  try {
    execFileSync("umount", ["-l", path], { stdio: "ignore" });
  } catch {
    // not a mount point (any more)
  }
  if (remove) rmSync(path, { force: true });
}
