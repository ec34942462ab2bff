import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, symlinkSync } from "node:fs";
import { join } from "node:path";

/** Debian's busybox-static: one static binary with sh, sleep, nsenter, unshare, hostname. */
const BUSYBOX = "/bin/busybox";

/**
 * Writes `<dir>/rootfs.tar`: a root filesystem of busybox-static and its applet links, the image
 * every real-runtime root test runs (no registry is reachable here; container-runtimes.md).
 * `bin/busybox` itself must stay a file: runtimes resolve /bin/sleep through the links.
 */
export function writeBusyboxRootfsTar(dir: string): string {
  const root = join(dir, "rootfs");
  for (const sub of ["bin", "proc", "sys", "dev", "etc", "tmp"])
    mkdirSync(join(root, sub), { recursive: true });
  copyFileSync(BUSYBOX, join(root, "bin", "busybox"));
  const applets = execFileSync(BUSYBOX, ["--list"], { encoding: "utf8" }).split("\n");
  for (const applet of applets) {
    if (applet !== "" && applet !== "busybox") symlinkSync("busybox", join(root, "bin", applet));
  }
  const tar = join(dir, "rootfs.tar");
  execFileSync("tar", ["-C", root, "-cf", tar, "."]);
  return tar;
}
