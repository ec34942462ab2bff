import * as http2 from "node:http2";
import * as net from "node:net";

export interface RawGrpcTarget {
  /** "http://127.0.0.1:1234" */
  url?: string;
  socketPath?: string;
}

export interface RawGrpcCall {
  /** Every gRPC message payload received so far, byte for byte as it came off the wire. */
  readonly messages: Uint8Array[];
  /** Resolves with grpc-status/grpc-message once the call ends (trailers, or trailers-only). */
  readonly status: Promise<{ code: number | undefined; message: string | undefined }>;
  readonly session: http2.ClientHttp2Session;
  readonly stream: http2.ClientHttp2Stream;
  /** The connection itself, to kill it the hard way (http2 refuses `session.socket.destroy()`). */
  readonly socket: net.Socket;
  /** Starts reading (for a call created with `read: false`). */
  read(): void;
  close(): void;
}

/**
 * A deliberately independent gRPC client: node:http2 plus the 5-byte gRPC framing, no connect
 * code on the client side. It stands for "an existing gRPC client" (Tetragon's Go client
 * sends exactly this: h2c prior knowledge, application/grpc, te: trailers) and lets tests see
 * the exact bytes of each message. With `read: false` it never consumes data, so HTTP/2 flow
 * control stalls the server's stream — a slow client.
 */
export function rawGrpcCall(
  target: RawGrpcTarget,
  path: string,
  request: Uint8Array,
  options: { read?: boolean } = {},
): RawGrpcCall {
  let socket: net.Socket | undefined;
  const session = http2.connect(target.url ?? "http://localhost", {
    createConnection: (authority: URL) => {
      socket =
        target.socketPath !== undefined
          ? net.connect(target.socketPath)
          : net.connect(Number(authority.port), authority.hostname);
      return socket;
    },
  });
  session.on("error", () => undefined);
  const stream = session.request({
    ":method": "POST",
    ":path": path,
    "content-type": "application/grpc+proto",
    te: "trailers",
    "user-agent": "raw-grpc-test-client/1",
  });
  stream.on("error", () => undefined);
  const frame = Buffer.alloc(5 + request.byteLength);
  frame.writeUInt32BE(request.byteLength, 1);
  frame.set(request, 5);
  stream.end(frame);

  const messages: Uint8Array[] = [];
  let pending: Buffer = Buffer.alloc(0);
  const onData = (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= 5) {
      const length = pending.readUInt32BE(1);
      if (pending.length < 5 + length) {
        break;
      }
      messages.push(new Uint8Array(pending.subarray(5, 5 + length)));
      pending = pending.subarray(5 + length);
    }
  };

  const status = new Promise<{ code: number | undefined; message: string | undefined }>((resolve) => {
    const fromHeaders = (headers: http2.IncomingHttpHeaders) => {
      const code = headers["grpc-status"];
      if (code !== undefined) {
        const message = headers["grpc-message"];
        resolve({
          code: Number(code),
          message: typeof message === "string" ? decodeURIComponent(message) : undefined,
        });
      }
    };
    stream.on("response", fromHeaders);
    stream.on("trailers", fromHeaders);
    stream.on("close", () => resolve({ code: undefined, message: undefined }));
  });

  const read = () => {
    stream.on("data", onData);
  };
  if (options.read !== false) {
    read();
  }
  return {
    messages,
    status,
    session,
    stream,
    socket: socket as net.Socket,
    read,
    close: () => {
      stream.close();
      session.close();
    },
  };
}
