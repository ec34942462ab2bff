/**
 * cgroup name → container id, following Tetragon's rules (pkg/sensors/exec/procevents/proc.go
 * LookupContainerId; tetragon-reference §3.3), extended to also return the full id.
 *
 * Tetragon only keeps the first 31 characters (`Process.docker`) and relies on the pod
 * informer's prefix match for the rest. We return both: `docker` is byte-for-byte what Tetragon
 * puts in `Process.docker`; `id` is the untruncated id (without a `.scope` suffix) for pod
 * lookup and `Container.id`.
 */
import { NSGUARD_CGROUP_NAME_LEN } from "@nsguard/kernel-contract";

/** Length of a full container id (64 hex characters for docker/containerd/cri-o/podman). */
export const CONTAINER_ID_LENGTH = 64;
/** `Process.docker` length; also the minimum accepted when the kernel buffer truncated the name. */
export const DOCKER_ID_LENGTH = 31;
/**
 * Size of the kernel's cgroup-name buffer, NUL included (equal to Tetragon's DOCKER_ID_LENGTH of
 * 128). A name of 127 characters from the kernel was probably cut off.
 */
export const KERNEL_CGROUP_NAME_BUFFER = NSGUARD_CGROUP_NAME_LEN;

export interface ContainerId {
  /** The full container id, or "" when the cgroup is not a container's. */
  id: string;
  /** The first 31 characters of the id: Tetragon's `Process.docker`. */
  docker: string;
}

export interface ContainerIdOptions {
  /**
   * The name came from the kernel's fixed-size buffer (exec records) rather than /proc: a name
   * that filled the buffer may be truncated, so ids down to 31 characters are accepted.
   */
  kernelSource?: boolean;
  /**
   * Walk up the path to the nearest ancestor that looks like a container (for services running
   * inside a container, e.g. `…/<id>/init.service`). Tetragon enables this only for podman's
   * `…/libpod-<id>/container` layout; needs a full path, not only the last component.
   */
  walkParent?: boolean;
}

const NONE: ContainerId = { id: "", docker: "" };

/**
 * Accepts a full cgroup path (`/kubepods/besteffort/pod…/<id>`, `0::/libpod_parent/libpod-<id>`)
 * or only its last component (what the kernel reports).
 */
export function containerIdFromCgroup(cgroup: string, options: ContainerIdOptions = {}): ContainerId {
  let walkParent = options.walkParent ?? false;
  const subDirs = cgroup.split("/");
  let subdir = subDirs[subDirs.length - 1] ?? "";

  // sysbox nested containers: the outermost container's cgroup is the 5th component.
  if (subdir.includes("syscont-cgroup-root") && subDirs.length > 4) {
    subdir = subDirs[4] ?? "";
    walkParent = false;
  }

  const maybeTruncated = options.kernelSource === true && subdir.length >= KERNEL_CGROUP_NAME_BUFFER - 1;
  const candidate = idPart(subdir);

  // A `.service` at the end is a systemd service, i.e. something running inside a container,
  // never the container itself; only the parent walk may find the container then.
  if (
    !candidate.endsWith("service") &&
    (candidate.length >= CONTAINER_ID_LENGTH || (maybeTruncated && candidate.length >= DOCKER_ID_LENGTH))
  ) {
    return toContainerId(candidate);
  }

  // podman (cgroupfs, --cgroups=split) puts the payload in `…/libpod-<id>/container`.
  if (cgroup.includes("libpod") && candidate === "container") walkParent = true;
  if (!walkParent) return NONE;

  // Same bounds as upstream (stops before the first two components).
  for (let j = subDirs.length - 2; j > 1; j--) {
    const parent = idPart(subDirs[j] ?? "");
    if (
      parent.length === CONTAINER_ID_LENGTH ||
      (parent.length > CONTAINER_ID_LENGTH && parent.endsWith("scope"))
    ) {
      return toContainerId(parent);
    }
  }
  return NONE;
}

/**
 * The id-bearing part of one cgroup directory name: after the last `:` (systemd-driver names
 * like `kubepods-…slice:cri-containerd:<id>`), then after the last `-` (`docker-<id>.scope`,
 * `cri-containerd-<id>.scope`, `crio-<id>.scope`, `libpod-<id>`).
 */
function idPart(name: string): string {
  const afterColon = name.slice(name.lastIndexOf(":") + 1);
  return afterColon.slice(afterColon.lastIndexOf("-") + 1);
}

function toContainerId(candidate: string): ContainerId {
  const id = candidate.endsWith(".scope") ? candidate.slice(0, -".scope".length) : candidate;
  return { id, docker: candidate.slice(0, DOCKER_ID_LENGTH) };
}

export type ContainerRuntime = "containerd" | "cri-o" | "docker" | "podman";

/**
 * Best guess of the container runtime from the cgroup path, for the `<runtime>://<id>` form of
 * `Container.id`. This is only a guess from naming conventions: a kubelet on the cgroupfs
 * driver gives every runtime the same `/kubepods/<qos>/pod<uid>/<id>` layout (we then assume
 * containerd, the default CRI). When Kubernetes (pod status `containerID`) or the CRI is
 * available, the runtime name they report is authoritative and should be used instead.
 */
export function runtimeFromCgroupPath(path: string): ContainerRuntime | undefined {
  if (path.includes("containerd") || /(^|\/)k8s\.io\//.test(path)) return "containerd";
  if (/crio[-:]/.test(path)) return "cri-o";
  if (path.includes("libpod")) return "podman";
  if (path.includes("docker")) return "docker";
  if (path.includes("kubepods")) return "containerd";
  return undefined;
}

/** `containerd://<id>`: the form Kubernetes uses in container statuses and Tetragon in `Container.id`. */
export function qualifiedContainerId(runtime: ContainerRuntime, id: string): string {
  return `${runtime}://${id}`;
}

/** Strips a `<runtime>://` scheme if present. */
export function unqualifiedContainerId(id: string): string {
  const sep = id.indexOf("://");
  return sep < 0 ? id : id.slice(sep + 3);
}
