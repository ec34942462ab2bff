#!/usr/bin/env bash
# Builds the nsguard agent image (deploy/Containerfile) from this machine's own files only: no
# registry, no base image. Steps:
#   1. build the workspace (turbo: cached when nothing changed);
#   2. stage a rootfs: `pnpm deploy --prod` of @nsguard/cli (offline, from the local store; it
#      copies the workspace packages with their dist/, bpf/.output/*.o and the native .node),
#      pruned of sources and type declarations; /usr/bin/node and the shared libraries ldd names
#      for it and for the addon; busybox (mount, mountpoint, sh, env);
#   3. pack it into rootfs.tar with fixed order, owners and mtimes, so its sha256 names the inputs;
#   4. if deploy/.build holds the image archive of that hash, reuse it; otherwise
#      `podman build --timestamp 0` in a private scratch storage and save the archive;
#   5. `podman load` the archive into the storage podman is configured for (the default one, or
#      CONTAINERS_CONF / CONTAINERS_STORAGE_CONF), tagged $NSGUARD_IMAGE (default
#      localhost/nsguard:latest) and localhost/nsguard:<hash>. With --archive-only, skip this.
# Prints the archive path (--archive-only) or the image reference last.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

IMAGE=${NSGUARD_IMAGE:-localhost/nsguard:latest}
ARCHIVE_ONLY=0
[ "${1:-}" = --archive-only ] && ARCHIVE_ONLY=1
BUILD_DIR=${NSGUARD_IMAGE_BUILD_DIR:-$ROOT/deploy/.build}
log() { printf '[build-image] %s\n' "$*" >&2; }
start=$(date +%s.%N)
elapsed() { awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }'; }

export TURBO_TELEMETRY_DISABLED=1
pnpm -s turbo run build --filter=@nsguard/cli... --output-logs=errors-only >&2

log "workspace built ($(elapsed) s)"
rootfs=$BUILD_DIR/rootfs
context=$BUILD_DIR/context
rm -rf "$rootfs" "$context"
mkdir -p "$rootfs" "$context"

# --- the application: /opt/nsguard --------------------------------------------------------------
# inject-workspace-packages makes pnpm deploy copy the workspace packages from the lockfile it
# already has (pnpm 10; without it, deploy re-resolves every dependency against the registry).
pnpm -s --filter @nsguard/cli deploy --prod --offline --config.inject-workspace-packages=true \
  "$rootfs/opt/nsguard" >/dev/null
app=$rootfs/opt/nsguard
# Not needed at run time: sources, tests, build intermediates, type declarations, source maps,
# pnpm's bookkeeping (which holds timestamps, so it would also make the tar differ run to run).
rm -rf "$app/src" "$app"/tsconfig*.json "$app/pnpm-lock.yaml" \
  "$app/node_modules/.modules.yaml" "$app/node_modules/.pnpm-workspace-state-v1.json" \
  "$app/node_modules/.pnpm/lock.yaml"
for pkg in "$app"/node_modules/.pnpm/@nsguard+*/node_modules/@nsguard/*; do
  [ -L "$pkg" ] && continue # a link to the package copy another entry prunes
  rm -rf "$pkg"/{src,ts,proto,include,lib,.turbo} "$pkg"/tsconfig*.json "$pkg"/vitest.config.ts \
    "$pkg"/binding.gyp "$pkg"/Makefile "$pkg"/*.c
  if [ -d "$pkg/build" ]; then
    # `bindings` looks for build/Release/<name>.node; the rest is node-gyp's scratch.
    find "$pkg/build" -mindepth 1 -not -path "$pkg/build/Release" -not -name '*.node' -delete 2>/dev/null || true
    find "$pkg/build" -depth -type d -empty -delete
  fi
done
find "$app" \( -name '*.ts' -o -name '*.mts' -o -name '*.cts' -o -name '*.map' -o -name '*.test.js' \) \
  -not -path '*/node_modules/.bin/*' -delete
find "$app" -depth -type d -empty -delete
[ -f "$(echo "$app"/node_modules/.pnpm/@nsguard+native*/node_modules/@nsguard/native/build/Release/nsguard_native.node)" ] \
  || { log "the native addon is missing from the deployed tree"; exit 1; }
ls "$app"/node_modules/.pnpm/@nsguard+bpf*/node_modules/@nsguard/bpf/.output/*.bpf.o >/dev/null \
  || { log "the BPF objects are missing from the deployed tree"; exit 1; }

# --- the system: merged /usr as on Debian 12 ------------------------------------------------------
mkdir -p "$rootfs"/usr/{bin,sbin,lib,lib64,local/bin} "$rootfs"/{etc,proc,sys,dev,run,tmp,var/log,root}
ln -s usr/bin "$rootfs/bin"; ln -s usr/sbin "$rootfs/sbin"; ln -s usr/lib "$rootfs/lib"; ln -s usr/lib64 "$rootfs/lib64"
ln -s ../run "$rootfs/var/run"
chmod 1777 "$rootfs/tmp"
node_bin=$(readlink -f "$(command -v node)")
cp "$node_bin" "$rootfs/usr/bin/node"
addon=$(echo "$app"/node_modules/.pnpm/@nsguard+native*/node_modules/@nsguard/native/build/Release/nsguard_native.node)
# Every library the dynamic loader resolves for node and the addon, at the path it resolved (under
# /usr: /lib is /usr/lib here as on the host), plus the loader itself.
for lib in $( (ldd "$node_bin"; ldd "$addon") | awk '/=> \//{print $3} /^[ \t]*\/lib/{print $1}' | sort -u); do
  dest=$rootfs/usr${lib#/usr}
  mkdir -p "$(dirname "$dest")"
  cp -L "$lib" "$dest"
done
cp /bin/busybox "$rootfs/usr/bin/busybox"
# sh/env for the CLI's shebang and `kubectl exec`; mount/mountpoint: the sensor mounts tracefs and
# bpffs when the host has not (the DaemonSet mounts the host's, so normally it finds them).
for applet in sh env cat ls mount umount mountpoint; do ln -s busybox "$rootfs/usr/bin/$applet"; done
ln -s /opt/nsguard/bin/nsguard.js "$rootfs/usr/local/bin/nsguard"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"

log "rootfs staged: $(du -sm "$rootfs" | cut -f1) MB ($(elapsed) s)"

# --- pack, hash, build or reuse ------------------------------------------------------------------
tar -C "$rootfs" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=gnu \
  -cf "$context/rootfs.tar" .
cp deploy/Containerfile "$context/Containerfile"
hash=$(cat "$context/rootfs.tar" "$context/Containerfile" | sha256sum | cut -c1-16)
log "rootfs.tar hashed: $hash ($(elapsed) s)"
archive=$BUILD_DIR/nsguard-image-$hash.tar
hash_tag=localhost/nsguard:$hash

if [ -f "$archive" ]; then
  log "inputs unchanged ($hash): reusing $archive"
else
  log "building $hash_tag"
  # A private podman for the build: its own storage and lock files, so neither the machine's
  # podman configuration nor other podman users get involved (FROM scratch + ADD runs no container).
  scratch=$(mktemp -d "$BUILD_DIR/podman.XXXXXX")
  trap 'for m in $(awk -v d="$scratch" '"'"'index($5, d) == 1 {print $5}'"'"' /proc/self/mountinfo | sort -r); do umount -l "$m"; done; rm -rf "$scratch"' EXIT
  printf '[engine]\nlock_type = "file"\nevents_logger = "none"\ntmp_dir = "%s/tmp"\n' "$scratch" >"$scratch/containers.conf"
  printf '[storage]\ndriver = "overlay"\ngraphroot = "%s/graph"\nrunroot = "%s/run"\n' "$scratch" "$scratch" >"$scratch/storage.conf"
  mkdir -p "$scratch/tmp"
  (
    export CONTAINERS_CONF=$scratch/containers.conf CONTAINERS_STORAGE_CONF=$scratch/storage.conf XDG_RUNTIME_DIR=$scratch/tmp
    podman build -q --timestamp 0 --label "org.nsguard.inputs=$hash" -t "$hash_tag" -f "$context/Containerfile" "$context" >/dev/null
    podman save -q --format docker-archive -o "$archive.tmp" "$hash_tag"
    podman rmi -a -f >/dev/null
  )
  rm -f "$BUILD_DIR"/nsguard-image-*.tar
  mv "$archive.tmp" "$archive"
fi
rm -rf "$rootfs"
if [ "$ARCHIVE_ONLY" = 1 ]; then
  log "$archive ($(($(stat -c %s "$archive") / 1000000)) MB), $(elapsed) s"
  echo "$archive"
  exit 0
fi
podman load -q -i "$archive" >/dev/null
podman tag "$hash_tag" "$IMAGE"
size=$(podman image inspect -f '{{.Size}}' "$hash_tag")
log "$IMAGE = $hash_tag, $((size / 1000000)) MB, $(elapsed) s"
echo "$hash_tag"
