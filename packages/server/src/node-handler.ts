import { Code, ConnectError, type ConnectRouter, createConnectRouter } from "@connectrpc/connect";
import {
  type ConnectNodeAdapterOptions,
  compressionBrotli,
  compressionGzip,
  type connectNodeAdapter,
  universalRequestFromNodeRequest,
  universalResponseToNodeResponse,
} from "@connectrpc/connect-node";

/** A request listener for both `http` and `http2` servers (connect-node does not export its name). */
export type NodeHandlerFn = ReturnType<typeof connectNodeAdapter>;

/**
 * Where a response that could not be completed is reported (a stream that failed after it
 * started: serialisation limits, socket errors). Errors an RPC implementation throws are not
 * reported here: they are answered to the client as a status. `rpc` is
 * "tetragon.FineGuidanceSensors/GetEvents".
 */
export type RpcErrorReporter = (error: ConnectError, rpc: string) => void;

export interface NodeHandlerOptions extends Omit<ConnectNodeAdapterOptions, "routes"> {
  routes: (router: ConnectRouter) => void;
  /** Called when a response fails for a reason other than the client going away. Default: console.error. */
  onError?: RpcErrorReporter | undefined;
}

/**
 * connect-node's `connectNodeAdapter`, with one change: a client that disappears mid-stream is
 * not an error worth a stack trace. The adapter stays silent only for `Aborted`, but a peer
 * that vanishes while a GetEvents stream writes surfaces as EPIPE (HTTP/1.1) and is logged as
 * an internal error — on an agent whose CLI clients come and go with Ctrl-C, that is noise.
 * Everything else (routing, 404 fallback, default compression) is as in the adapter, built
 * from the same public pieces.
 */
export function createNodeHandler(options: NodeHandlerOptions): NodeHandlerFn {
  const { routes, onError, fallback, requestPathPrefix, contextValues, ...routerOptions } = options;
  const router = createConnectRouter({
    ...routerOptions,
    acceptCompression: routerOptions.acceptCompression ?? [compressionGzip, compressionBrotli],
  });
  routes(router);
  const handlers = new Map(router.handlers.map((h) => [(requestPathPrefix ?? "") + h.requestPath, h]));
  const report: RpcErrorReporter =
    onError ?? ((error, rpc) => console.error(`handler for rpc ${rpc} failed`, error));

  return (req, res) => {
    const handler = handlers.get(req.url?.split("?", 2)[0] ?? "");
    if (handler === undefined) {
      if (fallback) {
        fallback(req, res);
      } else {
        res.writeHead(404);
        res.end();
      }
      return;
    }
    const request = universalRequestFromNodeRequest(req, res, undefined, contextValues?.(req));
    handler(request)
      .then((response) => universalResponseToNodeResponse(response, res))
      .catch((reason: unknown) => {
        if (!isClientGoneError(reason)) {
          report(ConnectError.from(reason), `${handler.service.typeName}/${handler.method.name}`);
        }
      });
  };
}

// Node error codes meaning "the peer closed the connection under us".
const peerGoneCodes = new Set(["EPIPE", "ECONNRESET", "ERR_STREAM_PREMATURE_CLOSE", "ERR_STREAM_DESTROYED"]);

/** Whether a failed response only means the client went away (cancelled, reset, closed). */
export function isClientGoneError(reason: unknown): boolean {
  if (reason instanceof ConnectError && (reason.code === Code.Aborted || reason.code === Code.Canceled)) {
    return true;
  }
  let current: unknown = reason;
  for (let depth = 0; depth < 8 && typeof current === "object" && current !== null; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && peerGoneCodes.has(code)) {
      return true;
    }
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}
