/**
 * A local stand-in for the part of kube-apiserver a node-scoped pod informer talks to. No
 * Kubernetes API server can run on these machines, so the informer is tested against this: a real
 * HTTP(S) server speaking the same wire protocol, with the behaviours that make informers hard:
 *
 * - `GET /api/v1/pods?fieldSelector=…` → a PodList whose `metadata.resourceVersion` is the
 *   store's current version;
 * - `GET /api/v1/pods?watch=true&resourceVersion=N` → chunked newline-delimited JSON watch events
 *   (ADDED/MODIFIED/DELETED) for every change after N, then live ones; BOOKMARK events only for
 *   clients that sent `allowWatchBookmarks=true`;
 * - one monotonic resourceVersion for the whole store, as etcd's revision is;
 * - field selectors apply to watches the way kube-apiserver applies them: a change that moves a
 *   pod into the selection is ADDED, one that moves it out is DELETED;
 * - history compaction: a watch from a version older than the compacted one gets `410 Gone`,
 *   as an ERROR event with a Status `Expired` (what kube-apiserver sends) or as an HTTP 410;
 * - knobs to drop watch connections (cleanly or by reset) and to make the server unavailable.
 *
 * Test code: not exported from the package.
 */
import { once } from "node:events";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";

/** A pod as JSON, as the API serves it (dates are RFC 3339 strings). */
export interface PodObject {
  metadata: {
    name: string;
    namespace: string;
    uid?: string;
    resourceVersion?: string;
    generateName?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string; controller?: boolean }[];
    [key: string]: unknown;
  };
  spec?: { nodeName?: string; [key: string]: unknown };
  status?: { phase?: string; [key: string]: unknown };
}

export interface RecordedRequest {
  verb: "list" | "watch";
  /** The query parameters as sent. */
  query: Record<string, string>;
}

export interface FakeApiServerOptions {
  /** Serve HTTPS with this key pair. */
  tls?: { key: string; cert: string };
  /** Require `Authorization: Bearer <token>`. */
  token?: string;
  /**
   * How a watch from a compacted version is refused: kube-apiserver answers 200 and one ERROR
   * event carrying a 410 Status ("event", the default); some proxies and older servers answer
   * HTTP 410 ("http").
   */
  expiredAs?: "event" | "http";
}

interface Change {
  rv: number;
  before: PodObject | undefined;
  after: PodObject | undefined;
}

interface Selector {
  field: string;
  op: "=" | "!=";
  value: string;
}

interface Watcher {
  res: http.ServerResponse;
  selectors: Selector[];
  bookmarks: boolean;
}

/** Fields kube-apiserver accepts in a pod field selector (pkg/registry/core/pod/strategy.go). */
const POD_FIELDS: Record<string, (pod: PodObject) => string> = {
  "metadata.name": (p) => p.metadata.name,
  "metadata.namespace": (p) => p.metadata.namespace,
  "spec.nodeName": (p) => p.spec?.nodeName ?? "",
  "status.phase": (p) => p.status?.phase ?? "",
};

export class FakeApiServer {
  readonly #server: http.Server;
  readonly #options: FakeApiServerOptions;
  /** `namespace/name` → pod. */
  readonly #pods = new Map<string, PodObject>();
  readonly #history: Change[] = [];
  readonly #watchers = new Set<Watcher>();
  #rv = 1;
  /** Watches from a version below this one are expired. */
  #compactedRv = 0;
  #available = true;
  #uids = 0;
  /** Every list and watch request, in arrival order. */
  readonly requests: RecordedRequest[] = [];
  url = "";

  private constructor(options: FakeApiServerOptions) {
    this.#options = options;
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
      try {
        this.#handle(req, res);
      } catch (err) {
        if (!(err instanceof StatusError)) throw err;
        sendStatus(res, err.code, err.reason, err.message);
      }
    };
    this.#server = options.tls ? https.createServer(options.tls, handler) : http.createServer(handler);
  }

  static async start(options: FakeApiServerOptions = {}): Promise<FakeApiServer> {
    const server = new FakeApiServer(options);
    server.#server.listen(0, "127.0.0.1");
    await once(server.#server, "listening");
    const { port } = server.#server.address() as AddressInfo;
    server.url = `${options.tls ? "https" : "http"}://127.0.0.1:${port}`;
    return server;
  }

  /** The store's current resourceVersion. */
  get resourceVersion(): number {
    return this.#rv;
  }

  /** Watch connections currently open. */
  get watchCount(): number {
    return this.#watchers.size;
  }

  /** Creates or replaces a pod (a uid is assigned on create); returns the stored copy. */
  put(pod: PodObject): PodObject {
    const key = `${pod.metadata.namespace}/${pod.metadata.name}`;
    const before = this.#pods.get(key);
    const after = structuredClone(pod);
    after.metadata.uid ??= before?.metadata.uid ?? `uid-${++this.#uids}`;
    after.metadata.resourceVersion = String(++this.#rv);
    this.#pods.set(key, after);
    this.#record({ rv: this.#rv, before, after });
    return structuredClone(after);
  }

  /** Changes a stored pod in place (a PATCH). */
  update(namespace: string, name: string, mutate: (pod: PodObject) => void): PodObject {
    const pod = this.#pods.get(`${namespace}/${name}`);
    if (!pod) throw new Error(`no pod ${namespace}/${name}`);
    const copy = structuredClone(pod);
    mutate(copy);
    return this.put(copy);
  }

  delete(namespace: string, name: string): void {
    const key = `${namespace}/${name}`;
    const before = this.#pods.get(key);
    if (!before) throw new Error(`no pod ${key}`);
    this.#pods.delete(key);
    // The DELETED event carries the object's last state at a new resourceVersion.
    const last = structuredClone(before);
    last.metadata.resourceVersion = String(++this.#rv);
    this.#record({ rv: this.#rv, before: last, after: undefined });
  }

  /** Forgets history up to now, as etcd compaction does: older watches will get 410 Gone. */
  compact(): void {
    this.#compactedRv = this.#rv;
    this.#history.length = 0;
  }

  /** Sends a BOOKMARK at the current version to watches that asked for bookmarks. */
  bookmark(): void {
    const event = {
      type: "BOOKMARK",
      object: { kind: "Pod", apiVersion: "v1", metadata: { resourceVersion: String(this.#rv) } },
    };
    for (const w of this.#watchers) if (w.bookmarks) w.res.write(`${JSON.stringify(event)}\n`);
  }

  /**
   * Closes every watch: "end" finishes the response as a server-side watch timeout does;
   * "reset" destroys the socket as a broken network does.
   */
  dropWatches(how: "end" | "reset"): void {
    for (const w of [...this.#watchers]) {
      this.#watchers.delete(w);
      if (how === "end") w.res.end();
      else w.res.socket?.destroy();
    }
  }

  /** Compacts and tells every open watch its version expired (ERROR 410), then closes it. */
  expireWatches(): void {
    this.compact();
    for (const w of [...this.#watchers]) {
      this.#watchers.delete(w);
      w.res.end(`${JSON.stringify({ type: "ERROR", object: expiredStatus(this.#compactedRv) })}\n`);
    }
  }

  /** While unavailable, open watches are reset and every request gets 503. */
  setAvailable(available: boolean): void {
    this.#available = available;
    if (!available) this.dropWatches("reset");
  }

  async close(): Promise<void> {
    this.dropWatches("reset");
    this.#server.closeAllConnections();
    this.#server.close();
    await once(this.#server, "close");
  }

  #record(change: Change): void {
    this.#history.push(change);
    for (const w of this.#watchers) {
      const event = eventFor(change, w.selectors);
      if (event) w.res.write(`${JSON.stringify(event)}\n`);
    }
  }

  #handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? "/", "http://x");
    const query = Object.fromEntries(url.searchParams);
    const watch = query.watch === "true" || query.watch === "1";
    // Recorded before any refusal: tests count retries against an unavailable server too.
    if (url.pathname === "/api/v1/pods") this.requests.push({ verb: watch ? "watch" : "list", query });
    if (!this.#available)
      throw new StatusError(503, "ServiceUnavailable", "the server is currently unavailable");
    if (this.#options.token !== undefined && req.headers.authorization !== `Bearer ${this.#options.token}`) {
      throw new StatusError(401, "Unauthorized", "Unauthorized");
    }
    if (req.method !== "GET" || url.pathname !== "/api/v1/pods") {
      throw new StatusError(404, "NotFound", "the server could not find the requested resource");
    }
    if (query.labelSelector)
      throw new StatusError(400, "BadRequest", "labelSelector: not supported by this test server");
    let selectors: Selector[];
    try {
      selectors = parseFieldSelector(query.fieldSelector ?? "");
    } catch (err) {
      throw new StatusError(400, "BadRequest", (err as Error).message, { cause: err });
    }
    if (!watch) {
      const items = [...this.#pods.values()].filter((p) => matches(p, selectors));
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          kind: "PodList",
          apiVersion: "v1",
          metadata: { resourceVersion: String(this.#rv) },
          items,
        }),
      );
      return;
    }
    this.#watch(res, query, selectors);
  }

  #watch(res: http.ServerResponse, query: Record<string, string>, selectors: Selector[]): void {
    const from = query.resourceVersion ?? "";
    const fromRv = Number(from);
    if (from !== "" && from !== "0" && !(Number.isInteger(fromRv) && fromRv >= 0)) {
      throw new StatusError(400, "BadRequest", `invalid resourceVersion ${JSON.stringify(from)}`);
    }
    const expired = from !== "" && from !== "0" && fromRv < this.#compactedRv;
    if (expired && this.#options.expiredAs === "http") {
      throw new StatusError(410, "Expired", `too old resource version: ${fromRv} (${this.#compactedRv})`);
    }
    res.writeHead(200, { "content-type": "application/json", "transfer-encoding": "chunked" });
    res.flushHeaders();
    if (expired) {
      res.end(`${JSON.stringify({ type: "ERROR", object: expiredStatus(this.#compactedRv) })}\n`);
      return;
    }
    if (from === "" || from === "0") {
      // No version: start with synthetic ADDED events for the current state.
      for (const pod of this.#pods.values()) {
        if (matches(pod, selectors)) res.write(`${JSON.stringify({ type: "ADDED", object: pod })}\n`);
      }
    } else {
      for (const change of this.#history) {
        if (change.rv <= fromRv) continue;
        const event = eventFor(change, selectors);
        if (event) res.write(`${JSON.stringify(event)}\n`);
      }
    }
    const watcher: Watcher = { res, selectors, bookmarks: query.allowWatchBookmarks === "true" };
    this.#watchers.add(watcher);
    res.on("close", () => this.#watchers.delete(watcher));
  }
}

function parseFieldSelector(text: string): Selector[] {
  if (text === "") return [];
  return text.split(",").map((term) => {
    const m = /^([^=!]+)(==|=|!=)(.*)$/.exec(term);
    if (!m) throw new Error(`invalid field selector term ${JSON.stringify(term)}`);
    const [, field = "", op, value = ""] = m;
    if (!(field in POD_FIELDS)) throw new Error(`field label not supported: ${field}`);
    return { field, op: op === "!=" ? "!=" : "=", value };
  });
}

function matches(pod: PodObject, selectors: Selector[]): boolean {
  return selectors.every((s) => {
    const actual = POD_FIELDS[s.field]?.(pod) ?? "";
    return s.op === "=" ? actual === s.value : actual !== s.value;
  });
}

/** The event a watcher with these selectors sees for a change, if any. */
function eventFor(change: Change, selectors: Selector[]): { type: string; object: PodObject } | undefined {
  const was = change.before !== undefined && matches(change.before, selectors);
  const is = change.after !== undefined && matches(change.after, selectors);
  if (change.after === undefined)
    return was && change.before ? { type: "DELETED", object: change.before } : undefined;
  if (is) return { type: was ? "MODIFIED" : "ADDED", object: change.after };
  // Left the selection: the watcher sees it deleted, with its new state.
  return was ? { type: "DELETED", object: change.after } : undefined;
}

function expiredStatus(compactedRv: number) {
  return {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message: `too old resource version (compacted at ${compactedRv})`,
    reason: "Expired",
    code: 410,
  };
}

/** A request refused with a Status object, as kube-apiserver refuses it. */
class StatusError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

function sendStatus(res: http.ServerResponse, code: number, reason: string, message: string): void {
  res.writeHead(code, { "content-type": "application/json" });
  res.end(
    JSON.stringify({
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message,
      reason,
      code,
    }),
  );
}
