import { closeSync, fstatSync, ftruncateSync, openSync, readSync } from "node:fs";

/** How far back a partial last line is looked for; an event line is far shorter. */
const MAX_TAIL_BYTES = 4 * 1024 * 1024;

/**
 * Cuts an unfinished last line off the export file, as a killed agent (SIGKILL, OOM) can leave
 * one: a fatal signal may cut a write(2) to a regular file short. The next run appends after it,
 * so without this the file would hold one line that is not JSON, which breaks line-by-line
 * consumers (fluentd, `nsguard getevents < file`). Returns the bytes removed (0: nothing to do,
 * including a missing file).
 */
export function truncatePartialLastLine(filename: string): number {
  let fd: number;
  try {
    fd = openSync(filename, "r+");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return 0;
    throw err;
  }
  try {
    const size = fstatSync(fd).size;
    if (size === 0) return 0;
    const span = Math.min(size, MAX_TAIL_BYTES);
    const tail = Buffer.alloc(span);
    readSync(fd, tail, 0, span, size - span);
    if (tail[span - 1] === 0x0a) return 0;
    const lastNewline = tail.lastIndexOf(0x0a);
    // No newline in the window: the whole window is one broken line (or the file is one).
    const keep = lastNewline < 0 ? size - span : size - span + lastNewline + 1;
    ftruncateSync(fd, keep);
    return size - keep;
  } finally {
    closeSync(fd);
  }
}
