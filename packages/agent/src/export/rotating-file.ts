import { createReadStream, createWriteStream } from "node:fs";
import { chmod, type FileHandle, mkdir, open, readdir, rename, stat, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";

export interface RotatingFileOptions {
  filename: string;
  /** Rotate before a write would take the file past this many bytes. */
  maxSizeBytes: number;
  /** Rotated files kept (name.1 … name.N, newest first); 0 keeps them all, as lumberjack does. */
  maxBackups: number;
  /** gzip rotated files (name.1.gz …). */
  compress: boolean;
  /** Mode of the live file and the backups, applied with chmod so the umask does not change it. */
  mode: number;
  /** A background compression failed; the uncompressed backup is kept. */
  onError?: (err: Error) => void;
}

/** The export target is unusable (a directory, say); thrown by {@link RotatingFile.open}. */
export class ExportFileError extends Error {
  override readonly name = "ExportFileError";
}

/**
 * Tetragon's export file (lumberjack): appended, rotated by size and on demand, with N backups,
 * optionally gzipped. Hand-rolled rather than rotating-file-stream, which this replaced, because
 * that library aligns interval rotation to wall-clock boundaries of whole units (Tetragon's is a
 * ticker of any Go duration from start-up), gzips straight into the final `.gz` name (a crash
 * mid-compression leaves a truncated backup that is then kept), and has no injectable clock.
 *
 * Guarantees, all without fsync (they are about the process dying, not the machine):
 * - Lines stay whole across rotation: a batch of whole lines is split only between lines, and
 *   rotation happens only between writes (everything runs on one promise chain).
 * - Across a SIGKILL: the kernel has every line whose write(2) returned; a write cut short by
 *   the kill leaves a torn last line, which the next open() cuts off, so appending never glues
 *   a new line to a fragment. A backup is renamed from the live file (atomic), and compression
 *   writes `name.N.gz.tmp`, renames it into place, then unlinks the source, so a crash leaves
 *   either the plain backup (compressed again at the next open) or the finished `.gz`.
 */
export class RotatingFile {
  private chain: Promise<unknown> = Promise.resolve();
  private compressing: Promise<void> = Promise.resolve();
  private closed = false;

  private constructor(
    private readonly options: RotatingFileOptions,
    private file: FileHandle,
    private size: number,
    /** Bytes of a torn last line cut off at open (a previous run was killed mid-write). */
    readonly repairedBytes: number,
  ) {}

  static async open(options: RotatingFileOptions): Promise<RotatingFile> {
    const existing = await stat(options.filename).catch(() => undefined);
    if (existing !== undefined && !existing.isFile()) {
      throw new ExportFileError(`export file ${options.filename} exists and is not a regular file`);
    }
    await mkdir(dirname(options.filename), { recursive: true, mode: 0o755 });
    if (options.compress) await recompressLeftovers(options);
    const file = await openLive(options);
    const size = (await file.stat()).size;
    const keep = await wholeLinesLength(file, size);
    if (keep < size) await file.truncate(keep);
    return new RotatingFile(options, file, keep, size - keep);
  }

  /** Appends whole lines (each ending in "\n"), rotating first whenever the next line would not fit. */
  write(lines: readonly string[]): Promise<number> {
    return this.serial(async () => {
      let written = 0;
      let chunk: string[] = [];
      let chunkBytes = 0;
      for (const line of lines) {
        const bytes = Buffer.byteLength(line);
        if (this.size + chunkBytes > 0 && this.size + chunkBytes + bytes > this.options.maxSizeBytes) {
          written += await this.append(chunk, chunkBytes);
          chunk = [];
          chunkBytes = 0;
          // A line larger than the limit still goes into a file of its own, rather than nowhere.
          if (this.size > 0) await this.rotateNow();
        }
        chunk.push(line);
        chunkBytes += bytes;
      }
      return written + (await this.append(chunk, chunkBytes));
    });
  }

  /** Rotates now, even if the file is empty (Tetragon's --export-file-rotation-interval ticker). */
  rotate(): Promise<void> {
    return this.serial(() => this.rotateNow());
  }

  async close(): Promise<void> {
    await this.serial(async () => {
      this.closed = true;
      await this.file.close();
    });
    await this.compressing;
  }

  private serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.chain.then(() => {
      if (this.closed) throw new ExportFileError(`export file ${this.options.filename} is closed`);
      return task();
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async append(lines: string[], bytes: number): Promise<number> {
    if (lines.length === 0) return 0;
    const buffer = Buffer.from(lines.join(""));
    let offset = 0;
    // A regular file takes the whole buffer in one write(2) unless the disk fills up or a signal
    // arrives; loop for the rest rather than assume.
    while (offset < buffer.length) {
      const { bytesWritten } = await this.file.write(buffer, offset, buffer.length - offset);
      offset += bytesWritten;
      this.size += bytesWritten;
    }
    return bytes;
  }

  private async rotateNow(): Promise<void> {
    const { filename, compress, mode } = this.options;
    // The previous backup's compression must finish before the backups shift under it.
    await this.compressing;
    await this.file.close();
    const backup = `${filename}.1`;
    try {
      await shiftBackups(this.options);
      await rename(filename, backup);
    } finally {
      // Even when the shuffle failed (someone removed the file, say), keep a live file to write to.
      this.file = await openLive(this.options);
      this.size = (await this.file.stat()).size;
    }
    if (compress) {
      this.compressing = gzipBackup(backup, mode).catch((err: Error) => this.options.onError?.(err));
    }
  }
}

async function openLive(options: RotatingFileOptions): Promise<FileHandle> {
  // a+: appends, and lets open() read back the tail to find a torn last line.
  const file = await open(options.filename, "a+", options.mode);
  await file.chmod(options.mode);
  return file;
}

/** Length of the file up to and including its last "\n" (0 when it holds none). */
async function wholeLinesLength(file: FileHandle, size: number): Promise<number> {
  const step = 64 * 1024;
  const buffer = Buffer.alloc(step);
  for (let end = size; end > 0; end -= step) {
    const start = Math.max(0, end - step);
    const { bytesRead } = await file.read(buffer, 0, end - start, start);
    const at = buffer.subarray(0, bytesRead).lastIndexOf(0x0a);
    if (at >= 0) return start + at + 1;
  }
  return 0;
}

/** Backups of `filename` in its directory: index → suffixes present ("" plain, ".gz"). */
async function listBackups(filename: string): Promise<Map<number, string[]>> {
  const base = basename(filename);
  const backups = new Map<number, string[]>();
  for (const name of await readdir(dirname(filename))) {
    if (!name.startsWith(`${base}.`)) continue;
    const match = /^(\d+)(\.gz)?$/.exec(name.slice(base.length + 1));
    if (!match) continue;
    const index = Number(match[1]);
    backups.set(index, [...(backups.get(index) ?? []), match[2] ?? ""]);
  }
  return backups;
}

/** name.K → name.K+1 for every backup, newest last, deleting those that would pass maxBackups. */
async function shiftBackups({ filename, maxBackups }: RotatingFileOptions): Promise<void> {
  const backups = await listBackups(filename);
  for (const index of [...backups.keys()].sort((a, b) => b - a)) {
    for (const suffix of backups.get(index) ?? []) {
      const from = `${filename}.${index}${suffix}`;
      if (maxBackups > 0 && index >= maxBackups) await unlink(from);
      else await rename(from, `${filename}.${index + 1}${suffix}`);
    }
  }
}

/** After a crash: finish compressing plain backups and remove half-written `.gz.tmp` files. */
async function recompressLeftovers(options: RotatingFileOptions): Promise<void> {
  const dir = dirname(options.filename);
  for (const name of await readdir(dir).catch(() => [])) {
    if (name.startsWith(`${basename(options.filename)}.`) && name.endsWith(".gz.tmp")) {
      await unlink(join(dir, name));
    }
  }
  for (const [index, suffixes] of await listBackups(options.filename)) {
    if (suffixes.includes("")) await gzipBackup(`${options.filename}.${index}`, options.mode);
  }
}

async function gzipBackup(path: string, mode: number): Promise<void> {
  const tmp = `${path}.gz.tmp`;
  await pipeline(createReadStream(path), createGzip(), createWriteStream(tmp, { mode }));
  await chmod(tmp, mode);
  await rename(tmp, `${path}.gz`);
  await unlink(path);
}
