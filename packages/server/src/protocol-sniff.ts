import type { Socket } from "node:net";

// RFC 9113 §3.4: a client speaking HTTP/2 with prior knowledge (h2c, as gRPC clients and
// `buf curl --http2-prior-knowledge` do) opens with this exact preface. No HTTP/1.x request
// line can start with it ("PRI" is not a method anyone uses), so the first bytes decide.
const HTTP2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

/**
 * Reads just enough of a fresh connection to tell HTTP/2 prior knowledge from HTTP/1.x, puts
 * the bytes back (`unshift`) and hands the socket over. Node's http and http2 servers both
 * accept a socket emitted to them as "connection" and read already-buffered data first.
 * A connection that closes before deciding is simply dropped.
 */
export function sniffHttpVersion(
  socket: Socket,
  onHttp2: (socket: Socket) => void,
  onHttp1: (socket: Socket) => void,
): void {
  let seen: Buffer = Buffer.alloc(0);
  const onData = (chunk: Buffer) => {
    seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
    const n = Math.min(seen.length, HTTP2_PREFACE.length);
    const matches = seen.subarray(0, n).equals(HTTP2_PREFACE.subarray(0, n));
    if (matches && n < HTTP2_PREFACE.length) {
      return; // a prefix of the preface so far: wait for more bytes
    }
    socket.off("data", onData);
    socket.pause();
    socket.unshift(seen);
    if (matches) {
      onHttp2(socket);
    } else {
      onHttp1(socket);
    }
  };
  socket.on("data", onData);
}
