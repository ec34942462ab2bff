#!/usr/bin/env bash
# Bring a fresh machine (Debian 12, Node 20, npm, root) to the point where nsguard builds, runs and tests:
# system packages, pnpm, kernel pseudo-filesystems, workspace dependencies, then the build.
# Idempotent and quiet when there is nothing to do; every step says what it installs.
set -euo pipefail
cd "$(dirname "$0")/.."

PNPM_VERSION=10.34.9
# clang/llvm/libbpf-dev/bpftool/libelf-dev/zlib1g-dev: build bpf/ (CO-RE objects, skeleton-free libbpf loading)
# g++/make/python3: node-gyp for native/; util-linux: unshare/nsenter for the demo and tests;
# python3-grpcio/python3-protobuf: examples/python-client (another language over gRPC), tested.
# podman/runc/containerd/busybox-static: the root tier runs real containers (podman with runc, and
# containerd's CRI; crun cannot run on these hybrid-cgroup hosts — shared/spec/container-runtimes.md).
# chromium: packages/sdk-e2e drives it with playwright-core (which brings no browser) to test the
# SDK's browser entry over gRPC-Web/Connect.
# systemd: systemd-analyze verifies deploy/systemd/nsguard.service; curl: the deploy test probes
# the agent's health port inside its pod's network namespace.
APT_PACKAGES=(clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev pkg-config make gcc g++ python3 util-linux python3-grpcio python3-protobuf
  podman runc containerd busybox-static chromium systemd curl)

log() { printf '[bootstrap] %s\n' "$*" >&2; }

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    log "missing system packages: ${missing[*]} (run as root, or apt-get install them)"; exit 1
  fi
  log "installing system packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ "$(pnpm --version 2>/dev/null || true)" != "$PNPM_VERSION" ]; then
  # corepack cannot verify signatures against this registry; a global npm install works.
  log "installing pnpm@$PNPM_VERSION"
  npm install -g --no-audit --no-fund "pnpm@$PNPM_VERSION" >/dev/null
fi

# The sensor needs tracefs (syscall tracepoints) and bpffs; they are not mounted on a fresh VM.
if [ "$(id -u)" -eq 0 ]; then
  mountpoint -q /sys/kernel/tracing || mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null || true
  mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf 2>/dev/null || true
fi

export TURBO_TELEMETRY_DISABLED=1
# pnpm's bundled node-gyp must not try to download headers (no network but the registries):
export npm_config_nodedir="${npm_config_nodedir:-$(node -p 'require("path").resolve(process.execPath, "../..")')}"

if [ ! -f node_modules/.modules.yaml ] || [ pnpm-lock.yaml -nt node_modules/.modules.yaml ]; then
  log "installing workspace dependencies"
  CI=true pnpm install --frozen-lockfile --reporter=silent
fi

log "building (turbo: generate -> bpf -> native -> packages)"
pnpm turbo run build --output-logs=errors-only >&2
