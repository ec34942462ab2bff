/**
 * A minimal client for podman's REST API (`podman system service`) over its unix socket: JSON GETs
 * and the events stream. Node's http does this in a few lines; the API is plain HTTP/1.1.
 * Only the fields nsguard reads are typed (container-runtimes.md §2 lists what 4.3.1 returns).
 */
import { Agent, type ClientRequest, request } from "node:http";

/** The libpod API version in request paths; 4.3.1 (Debian 12) serves it, newer podmans too. */
const API = "/v4.0.0/libpod";

/** A request to the podman API failed: the socket is missing, the service is down, or it answered an error. */
export class PodmanApiError extends Error {
  override readonly name = "PodmanApiError";
  constructor(
    message: string,
    /** The request path. */
    readonly path: string,
    /** The HTTP status when podman answered, undefined when it could not be reached. */
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** `GET /libpod/containers/json?all=true` (one element). */
export interface LibpodContainerListEntry {
  Id: string;
  IsInfra: boolean;
}

/** `GET /libpod/containers/{id}/json`, the fields the pod mapping uses. */
export interface LibpodContainerInspect {
  Id: string;
  Name: string;
  /** Image id (64 hex). */
  Image: string;
  /** `repo:tag` as the user named it. */
  ImageName: string;
  /** `sha256:…` manifest digest; "" for images without one. */
  ImageDigest?: string;
  /** Pod id, "" when the container is not in a pod. */
  Pod?: string;
  IsInfra?: boolean;
  State: { StartedAt?: string; Pid?: number; CgroupPath?: string };
  Config: { Labels?: Record<string, string> | null; Annotations?: Record<string, string> | null };
  HostConfig?: { Privileged?: boolean };
}

/** `GET /libpod/pods/{id}/json`, the fields the pod mapping uses. */
export interface LibpodPodInspect {
  Id: string;
  Name: string;
  Labels?: Record<string, string> | null;
}

/** One element of the events stream (4.3.1 sends one JSON object per line). */
export interface LibpodEvent {
  Type: string;
  Action: string;
  Actor: { ID: string; Attributes?: Record<string, string> };
  timeNano?: number;
}

export interface EventStream {
  /** Ends the stream; its `onClose` is not called for a close asked for here. */
  close(): void;
}

export interface EventStreamHandlers {
  /** podman accepted the subscription: events from now on will arrive. */
  onOpen(): void;
  onEvent(event: LibpodEvent): void;
  /** The stream ended or could not be opened (never after {@link EventStream.close}). */
  onClose(err: PodmanApiError): void;
}

export class LibpodClient {
  readonly socketPath: string;
  readonly #timeoutMs: number;
  /** Keep-alive connections for the short requests (the event stream has its own). */
  readonly #agent = new Agent({ keepAlive: true, maxSockets: 4 });

  constructor(socketPath: string, options: { timeoutMs?: number } = {}) {
    this.socketPath = socketPath;
    this.#timeoutMs = options.timeoutMs ?? 5000;
  }

  listContainers(): Promise<LibpodContainerListEntry[]> {
    return this.#getJson(`${API}/containers/json?all=true`);
  }

  /** A full id, a unique id prefix or a name. Rejects with status 404 when there is none. */
  inspectContainer(nameOrId: string): Promise<LibpodContainerInspect> {
    return this.#getJson(`${API}/containers/${encodeURIComponent(nameOrId)}/json`);
  }

  inspectPod(nameOrId: string): Promise<LibpodPodInspect> {
    return this.#getJson(`${API}/pods/${encodeURIComponent(nameOrId)}/json`);
  }

  /** Follows `/libpod/events?stream=true` with the given filters (podman's `--filter` map). */
  events(filters: Record<string, string[]>, handlers: EventStreamHandlers): EventStream {
    const path = `${API}/events?stream=true&filters=${encodeURIComponent(JSON.stringify(filters))}`;
    let closed = false;
    const finish = (err: PodmanApiError) => {
      if (closed) return;
      closed = true;
      handlers.onClose(err);
    };
    // agent: false — a dedicated connection that may stay idle forever, outside the pool.
    const req: ClientRequest = request({ socketPath: this.socketPath, path, agent: false }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        finish(new PodmanApiError(`podman events: HTTP ${res.statusCode}`, path, res.statusCode));
        return;
      }
      handlers.onOpen();
      let pending = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        pending += chunk;
        let nl = pending.indexOf("\n");
        while (nl >= 0) {
          const line = pending.slice(0, nl).trim();
          pending = pending.slice(nl + 1);
          if (line !== "" && !closed) {
            let parsed: (LibpodEvent & { cause?: unknown; response?: unknown }) | undefined;
            try {
              parsed = JSON.parse(line);
            } catch {
              // a line we cannot parse is skipped; the next resync corrects what it would have said
            }
            // podman reports a failure after the 200 header as an error object in the body
            // (4.3.1 with events_logger=none: "cannot read events with the \"none\" backend").
            if (parsed && typeof parsed.response === "number" && parsed.Type === undefined) {
              const status = parsed.response;
              finish(new PodmanApiError(`podman events: ${errorMessage(line)}`, path, status));
              req.destroy();
              return;
            }
            if (parsed) handlers.onEvent(parsed);
          }
          nl = pending.indexOf("\n");
        }
      });
      res.on("close", () => finish(new PodmanApiError("podman events stream ended", path, 200)));
    });
    req.on("error", (cause) =>
      finish(new PodmanApiError(`podman events: ${cause.message}`, path, undefined, { cause })),
    );
    req.end();
    return {
      close() {
        closed = true;
        req.destroy();
      },
    };
  }

  close(): void {
    this.#agent.destroy();
  }

  #getJson<T>(path: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const req = request(
        { socketPath: this.socketPath, path, agent: this.#agent, timeout: this.#timeoutMs },
        (res) => {
          let body = "";
          res.setEncoding("utf8");
          res.on("data", (chunk: string) => {
            body += chunk;
          });
          res.on("end", () => {
            if (res.statusCode !== 200) {
              reject(
                new PodmanApiError(
                  `podman ${path}: HTTP ${res.statusCode} ${errorMessage(body)}`,
                  path,
                  res.statusCode,
                ),
              );
              return;
            }
            try {
              resolve(JSON.parse(body) as T);
            } catch (cause) {
              reject(new PodmanApiError(`podman ${path}: invalid JSON`, path, res.statusCode, { cause }));
            }
          });
          res.on("error", (cause) =>
            reject(new PodmanApiError(`podman ${path}: ${cause.message}`, path, undefined, { cause })),
          );
        },
      );
      req.on("timeout", () => req.destroy(new Error(`no answer in ${this.#timeoutMs} ms`)));
      req.on("error", (cause) =>
        reject(new PodmanApiError(`podman ${path}: ${cause.message}`, path, undefined, { cause })),
      );
      req.end();
    });
  }
}

/** podman's error body is `{"cause","message","response"}`. */
function errorMessage(body: string): string {
  try {
    return String((JSON.parse(body) as { message?: unknown }).message ?? "");
  } catch {
    return body.slice(0, 200);
  }
}
