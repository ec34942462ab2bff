import { hostname } from "node:os";

export interface NodeNameOptions {
  /** An explicitly configured name (e.g. a `--node-name` flag); wins over everything else. */
  explicit?: string | undefined;
  /** Defaults to process.env; injectable for tests. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Defaults to os.hostname; injectable for tests. */
  hostname?: () => string;
}

/**
 * The node name that goes into every event's `node_name` and into every exec_id.
 * Same precedence as Tetragon's GetNodeNameForExport: HUBBLE_NODE_NAME, then NODE_NAME (set by
 * the DaemonSet from spec.nodeName), then the host name. Empty values count as unset.
 *
 * Resolve it once at start-up: exec ids embed it, so changing it mid-run would make parent ids
 * of earlier processes unresolvable.
 */
export function resolveNodeName(options: NodeNameOptions = {}): string {
  const env = options.env ?? process.env;
  const candidates = [options.explicit, env.HUBBLE_NODE_NAME, env.NODE_NAME];
  for (const candidate of candidates) if (candidate) return candidate;
  return (options.hostname ?? hostname)();
}
