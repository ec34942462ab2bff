import type { WireType } from "@bufbuild/protobuf/wire";

const TWO_64 = 1n << 64n;

/**
 * A protobuf wire writer into one growing buffer, for the fast encoder. protobuf-es's BinaryWriter
 * allocates a chunk per string and per nested message; here a nested message reserves one length
 * byte and moves its body only in the rare case it outgrows 127 bytes' worth of length varint.
 */
export class WireWriter {
  private buf = Buffer.allocUnsafe(1024);
  private pos = 0;
  private readonly forks: number[] = [];

  finish(): Uint8Array {
    // A copy: callers keep the bytes, the writer keeps its buffer for the next message. Taken
    // from Node's shared allocation pool (Buffer.allocUnsafe below 4 KiB), as a plain Uint8Array
    // view: a new ArrayBuffer per encoded event costs a malloc and a V8 backing store each, and
    // at line rate their churn is much of the agent's GC and resident memory.
    const out = Buffer.allocUnsafe(this.pos);
    this.buf.copy(out, 0, 0, this.pos);
    return new Uint8Array(out.buffer, out.byteOffset, this.pos);
  }

  reset(): this {
    this.pos = 0;
    this.forks.length = 0;
    return this;
  }

  tag(fieldNo: number, wireType: WireType): this {
    return this.uint32(((fieldNo << 3) | wireType) >>> 0);
  }

  /** Starts a length-delimited body; `join()` writes its length in front. */
  fork(): this {
    this.ensure(1);
    this.forks.push(this.pos);
    this.pos++; // one byte of length, grown in join() if needed
    return this;
  }

  join(): this {
    const start = this.forks.pop();
    if (start === undefined) throw new Error("join() without fork()");
    const length = this.pos - start - 1;
    const lengthBytes = varintSize(length);
    if (lengthBytes > 1) {
      this.ensure(lengthBytes - 1);
      this.buf.copyWithin(start + lengthBytes, start + 1, this.pos);
      this.pos += lengthBytes - 1;
    }
    let at = start;
    let v = length;
    while (v > 127) {
      this.buf[at++] = (v & 127) | 128;
      v >>>= 7;
    }
    this.buf[at] = v;
    return this;
  }

  uint32(value: number): this {
    this.ensure(5);
    let v = value >>> 0;
    while (v > 127) {
      this.buf[this.pos++] = (v & 127) | 128;
      v >>>= 7;
    }
    this.buf[this.pos++] = v;
    return this;
  }

  int32(value: number): this {
    // Negative int32 values are sign-extended to 64 bits on the wire.
    return value >= 0 ? this.uint32(value) : this.varint64(BigInt(value));
  }

  sint32(value: number): this {
    return this.uint32(((value << 1) ^ (value >> 31)) >>> 0);
  }

  int64(value: bigint | string | number): this {
    const v = typeof value === "bigint" ? value : BigInt(value);
    if (v >= 0n && v <= 0x1fffffffffffffn) return this.unsafeVarint(Number(v));
    return this.varint64(v);
  }

  uint64(value: bigint | string | number): this {
    return this.int64(value);
  }

  sint64(value: bigint | string | number): this {
    const v = BigInt.asIntN(64, typeof value === "bigint" ? value : BigInt(value));
    return this.varint64((v << 1n) ^ (v >> 63n));
  }

  bool(value: boolean): this {
    this.ensure(1);
    this.buf[this.pos++] = value ? 1 : 0;
    return this;
  }

  fixed32(value: number): this {
    this.ensure(4);
    this.buf.writeUInt32LE(value >>> 0, this.pos);
    this.pos += 4;
    return this;
  }

  sfixed32(value: number): this {
    this.ensure(4);
    this.buf.writeInt32LE(value | 0, this.pos);
    this.pos += 4;
    return this;
  }

  fixed64(value: bigint | string | number): this {
    this.ensure(8);
    this.buf.writeBigUInt64LE(BigInt.asUintN(64, BigInt(value)), this.pos);
    this.pos += 8;
    return this;
  }

  sfixed64(value: bigint | string | number): this {
    this.ensure(8);
    this.buf.writeBigInt64LE(BigInt.asIntN(64, BigInt(value)), this.pos);
    this.pos += 8;
    return this;
  }

  float(value: number): this {
    this.ensure(4);
    this.buf.writeFloatLE(value, this.pos);
    this.pos += 4;
    return this;
  }

  double(value: number): this {
    this.ensure(8);
    this.buf.writeDoubleLE(value, this.pos);
    this.pos += 8;
    return this;
  }

  string(value: string): this {
    // Worst case 3 bytes per UTF-16 unit; the length prefix is fixed after the write.
    const max = value.length * 3;
    this.ensure(max + 5);
    if (max < 128) {
      const written = this.buf.write(value, this.pos + 1, "utf8");
      this.buf[this.pos] = written;
      this.pos += 1 + written;
      return this;
    }
    const length = Buffer.byteLength(value, "utf8");
    this.uint32(length);
    this.pos += this.buf.write(value, this.pos, "utf8");
    return this;
  }

  bytes(value: Uint8Array): this {
    this.uint32(value.byteLength);
    return this.raw(value);
  }

  raw(value: Uint8Array): this {
    this.ensure(value.byteLength);
    this.buf.set(value, this.pos);
    this.pos += value.byteLength;
    return this;
  }

  /** A varint of a non-negative integer up to 2^53. */
  private unsafeVarint(value: number): this {
    if (value <= 0xffffffff) return this.uint32(value);
    this.ensure(10);
    let v = value;
    while (v > 127) {
      this.buf[this.pos++] = (v % 128) | 128;
      v = Math.floor(v / 128);
    }
    this.buf[this.pos++] = v;
    return this;
  }

  private varint64(value: bigint): this {
    this.ensure(10);
    let v = value < 0n ? value + TWO_64 : value;
    while (v > 127n) {
      this.buf[this.pos++] = Number(v & 127n) | 128;
      v >>= 7n;
    }
    this.buf[this.pos++] = Number(v);
    return this;
  }

  private ensure(bytes: number): void {
    if (this.pos + bytes <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + bytes));
    this.buf.copy(bigger, 0, 0, this.pos);
    this.buf = bigger;
  }
}

function varintSize(value: number): number {
  let size = 1;
  for (let v = value >>> 7; v > 0; v >>>= 7) size++;
  return size;
}
