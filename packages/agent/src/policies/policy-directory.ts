import { type FSWatcher, watch } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { PolicyExistsError } from "@nsguard/server";
import type { Logger } from "pino";
import { type AgentPolicyStore, STATIC_POLICY_DOMAIN } from "./policy-store.js";

/** How long the directory must be quiet before it is read again (an editor's save is several events). */
const SETTLE_MS = 100;

/** What one policy file last did, for logs and tests. */
export interface PolicyFileState {
  /** The text last applied. */
  text: string;
  /** The store entry the file owns now (loaded, or in TP_STATE_LOAD_ERROR), if any. */
  key: string | undefined;
  /** Why the last version did not load; undefined when it did. */
  error: string | undefined;
  /** The error was a name clash with another policy: tried again on every change of the directory. */
  conflict: boolean;
}

/**
 * `--tracing-policy-dir`: every `*.yaml` / `*.yml` of a directory is a policy of the static
 * domain, kept in step with the directory while the agent runs. A new file loads, a changed file
 * replaces its policy (atomically, see AgentPolicyStore.apply: a bad version leaves the previous
 * one loaded), a removed file unloads it. One file's errors never touch another file's policy;
 * they are logged with the file and field path, and a policy that parses but does not load is
 * listed in TP_STATE_LOAD_ERROR.
 *
 * Each change of the directory (after SETTLE_MS of quiet) re-reads every file and applies those
 * whose text changed, rather than interpreting single events. That one rule covers editors'
 * write-and-rename, in-place writes, and Kubernetes' ConfigMap volumes, where `name.yaml` is a
 * symlink through `..data`, itself a symlink swapped by rename to a new timestamped directory:
 * the only event is for `..data`, and reading through the symlinks finds the new text. Hidden
 * names (`..data`, `.name.yaml.swp`) are never policies.
 */
export class PolicyDirectory {
  private readonly files = new Map<string, PolicyFileState>();
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private syncing: Promise<void> = Promise.resolve();
  private closed = false;

  private constructor(
    readonly dir: string,
    private readonly store: AgentPolicyStore,
    private readonly logger: Logger,
  ) {}

  /**
   * Loads the directory's policies and starts watching it. Fails only when `dir` is not a
   * readable directory; a bad policy file is logged and listed, never fatal.
   */
  static async open(dir: string, store: AgentPolicyStore, logger: Logger): Promise<PolicyDirectory> {
    const info = await stat(dir).catch((err: NodeJS.ErrnoException) => {
      throw new Error(
        `--tracing-policy-dir ${dir}: ${err.code === "ENOENT" ? "no such directory" : err.message}`,
      );
    });
    if (!info.isDirectory()) throw new Error(`--tracing-policy-dir ${dir}: not a directory`);
    const directory = new PolicyDirectory(dir, store, logger);
    // Watch first, then read: a file written while the first read runs is not missed.
    directory.watcher = watch(dir, { persistent: false }, () => directory.schedule());
    directory.watcher.on("error", (err) =>
      logger.warn({ err, dir }, "tracing policy directory: watch failed; changes are no longer followed"),
    );
    await directory.sync();
    return directory;
  }

  /** Fails unless `dir` is a directory (the agent checks before it touches the kernel). */
  static async check(dir: string): Promise<void> {
    const info = await stat(dir).catch((err: NodeJS.ErrnoException) => {
      throw new Error(
        `--tracing-policy-dir ${dir}: ${err.code === "ENOENT" ? "no such directory" : err.message}`,
      );
    });
    if (!info.isDirectory()) throw new Error(`--tracing-policy-dir ${dir}: not a directory`);
  }

  /** What each file last did, by file name. */
  state(): ReadonlyMap<string, Readonly<PolicyFileState>> {
    return this.files;
  }

  /** Resolves when no change is waiting to be applied (for tests and orderly shutdown). */
  async settled(): Promise<void> {
    while (this.timer !== undefined) await new Promise((r) => setTimeout(r, SETTLE_MS));
    await this.syncing;
  }

  /** Stops watching; loaded policies stay in the store (the sensor's stop detaches them). */
  async close(): Promise<void> {
    this.closed = true;
    this.watcher?.close();
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.syncing;
  }

  private schedule(): void {
    if (this.closed) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.sync();
    }, SETTLE_MS);
  }

  /** Brings the store in line with the directory; runs one at a time. */
  private sync(): Promise<void> {
    const run = this.syncing.then(() => this.syncOnce());
    this.syncing = run.catch((err) =>
      this.logger.warn({ err, dir: this.dir }, "tracing policy directory: cannot read it"),
    );
    return this.syncing;
  }

  private async syncOnce(): Promise<void> {
    if (this.closed) return;
    const present = new Map<string, string>();
    for (const name of (await readdir(this.dir)).sort()) {
      if (!isPolicyFileName(name)) continue;
      const file = join(this.dir, name);
      try {
        // Through symlinks (ConfigMap volumes); a dangling one or a directory is skipped.
        present.set(name, await readFile(file, "utf8"));
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== "ENOENT" && code !== "EISDIR") {
          this.logger.warn({ err, file }, "tracing policy file cannot be read");
        }
      }
    }

    for (const [name, state] of [...this.files]) {
      if (present.has(name)) continue;
      if (state.key !== undefined) await this.store.remove(state.key);
      this.files.delete(name);
      this.logger.info(
        { file: join(this.dir, name), key: state.key },
        "tracing policy file removed: unloaded",
      );
    }
    for (const [name, text] of present) {
      const before = this.files.get(name);
      if (before !== undefined && before.text === text && !before.conflict) continue;
      await this.apply(name, text, before);
    }
  }

  private async apply(name: string, text: string, before: PolicyFileState | undefined): Promise<void> {
    const file = join(this.dir, name);
    const { key, error } = await this.store.apply(text, STATIC_POLICY_DOMAIN, file, before?.key);
    const message = error === undefined ? undefined : error instanceof Error ? error.message : String(error);
    this.files.set(name, { text, key, error: message, conflict: error instanceof PolicyExistsError });
    if (message === undefined) {
      this.logger.info(
        { file, key },
        before === undefined ? "tracing policy loaded" : "tracing policy replaced",
      );
    } else if (key !== undefined && this.store.isLoaded(key) && key === before?.key) {
      this.logger.warn(
        { file, key, error: message },
        "tracing policy file changed but not loaded: the previous version stays",
      );
    } else {
      this.logger.warn({ file, key, error: message }, "tracing policy file not loaded");
    }
  }
}

function isPolicyFileName(name: string): boolean {
  return !name.startsWith(".") && (name.endsWith(".yaml") || name.endsWith(".yml"));
}
