import { type DescField, type DescMessage, type MessageShape, ScalarType } from "@bufbuild/protobuf";
import { WireType } from "@bufbuild/protobuf/wire";
import { isWrapperDesc } from "@bufbuild/protobuf/wkt";
import { WireWriter } from "./wire-writer.js";

/**
 * A binary encoder compiled once per message type: the same bytes as protobuf-es's `toBinary`
 * (fields in number order, proto3 presence rules, unboxed wrappers, packed repeated scalars,
 * unknown fields last), without its per-field reflection and with one reused buffer (wire-writer.ts). On the event hot path `toBinary` costs
 * ~45 µs for a kprobe event on our CI machines; this is what lets the agent encode each event
 * once for every listener at line rate. `fast-binary.test.ts` holds it byte-equal to `toBinary`.
 */
export type BinaryEncoder<Desc extends DescMessage> = (message: MessageShape<Desc>) => Uint8Array;

type Write = (writer: WireWriter, message: Record<string, unknown>) => void;

const IMPLICIT = 2; // google.protobuf.FeatureSet.FieldPresence.IMPLICIT

/** Options of {@link createBinaryEncoder}. */
export interface BinaryEncoderOptions {
  /**
   * Message types whose encoded bodies are cached per object (a WeakMap keyed by the message
   * object): a sub-message that many events share — the agent's memoised `Process` of a cached
   * process — is encoded once and copied into every later event. Only sound for objects that are
   * never mutated once encoded, which is the event hub's invariant for published messages.
   */
  memoize?: readonly DescMessage[];
}

/** One encoder's compiled writers: per encoder, because memoisation is an encoder option. */
interface Compilation {
  writers: WeakMap<DescMessage, Write>;
  memoize: ReadonlySet<string>;
}

/** Compiles a {@link BinaryEncoder} for `schema` (see BinaryEncoder for why it exists). */
export function createBinaryEncoder<Desc extends DescMessage>(
  schema: Desc,
  options: BinaryEncoderOptions = {},
): BinaryEncoder<Desc> {
  const compilation: Compilation = {
    writers: new WeakMap(),
    memoize: new Set((options.memoize ?? []).map((d) => d.typeName)),
  };
  const write = compileMessage(compilation, schema);
  // One writer per encoder, reused: encoding is synchronous, and finish() copies the bytes out.
  const writer = new WireWriter();
  return (message) => {
    write(writer.reset(), message as unknown as Record<string, unknown>);
    return writer.finish();
  };
}

function compileMessage(c: Compilation, desc: DescMessage): Write {
  const existing = c.writers.get(desc);
  if (existing) return existing;
  // Registered before the fields are compiled, so recursive types resolve to this entry.
  let writers: Write[] = [];
  const write: Write = (writer, message) => {
    for (const w of writers) w(writer, message);
    const unknown = (message as { $unknown?: { no: number; wireType: WireType; data: Uint8Array }[] })
      .$unknown;
    if (unknown) for (const { no, wireType, data } of unknown) writer.tag(no, wireType).raw(data);
  };
  c.writers.set(desc, write);
  writers = [...desc.fields].sort((a, b) => a.number - b.number).map((f) => compileField(c, f));
  return write;
}

/** Writes a sub-message's body once per object, then copies it (see BinaryEncoderOptions.memoize). */
function memoizedBody(sub: Write): (message: Record<string, unknown>) => Uint8Array {
  const bodies = new WeakMap<object, Uint8Array>();
  // Its own writer: the outer writer is in the middle of the enclosing message.
  const writer = new WireWriter();
  return (message) => {
    let body = bodies.get(message);
    if (body === undefined) {
      sub(writer.reset(), message);
      body = writer.finish();
      bodies.set(message, body);
    }
    return body;
  };
}

function compileField(c: Compilation, field: DescField): Write {
  const name = field.localName;
  const get: (m: Record<string, unknown>) => unknown = field.oneof
    ? ((oneof) => (m) => {
        const group = m[oneof] as { case?: string; value?: unknown };
        return group.case === name ? group.value : undefined;
      })(field.oneof.localName)
    : (m) => m[name];

  switch (field.fieldKind) {
    case "scalar":
    case "enum": {
      const type = field.fieldKind === "scalar" ? field.scalar : ScalarType.INT32;
      const zero =
        field.fieldKind === "enum" ? (v: unknown) => v === field.enum.values[0]?.number : isZero(type);
      const explicit = field.oneof !== undefined || field.presence !== IMPLICIT;
      const wire = wireTypeOf(type);
      return (writer, m) => {
        const v = get(m);
        if (explicit ? v === undefined : zero(v)) return;
        writeScalar(writer.tag(field.number, wire), type, v);
      };
    }
    case "message": {
      if (field.message.typeName === "google.protobuf.Struct") throw unsupported(field);
      const sub = compileMessage(c, field.message);
      if (isWrapperDesc(field.message) && !field.oneof) {
        // Wrapper fields hold the bare value; on the wire they are a one-field message.
        const inner = field.message.fields[0] as DescField & { fieldKind: "scalar" };
        const zero = isZero(inner.scalar);
        const wire = wireTypeOf(inner.scalar);
        return (writer, m) => {
          const v = get(m);
          if (v === undefined) return;
          writer.tag(field.number, WireType.LengthDelimited).fork();
          if (!zero(v)) writeScalar(writer.tag(1, wire), inner.scalar, v);
          writer.join();
        };
      }
      if (c.memoize.has(field.message.typeName)) {
        const body = memoizedBody(sub);
        return (writer, m) => {
          const v = get(m);
          if (v === undefined) return;
          writer.tag(field.number, WireType.LengthDelimited).bytes(body(v as Record<string, unknown>));
        };
      }
      return (writer, m) => {
        const v = get(m);
        if (v === undefined) return;
        writer.tag(field.number, WireType.LengthDelimited).fork();
        sub(writer, v as Record<string, unknown>);
        writer.join();
      };
    }
    case "list": {
      if (field.listKind === "message") {
        const sub = compileMessage(c, field.message);
        return (writer, m) => {
          for (const item of m[name] as Record<string, unknown>[]) {
            writer.tag(field.number, WireType.LengthDelimited).fork();
            sub(writer, item);
            writer.join();
          }
        };
      }
      const type = field.listKind === "scalar" ? field.scalar : ScalarType.INT32;
      if (field.packed) {
        return (writer, m) => {
          const list = m[name] as unknown[];
          if (!list.length) return;
          writer.tag(field.number, WireType.LengthDelimited).fork();
          for (const item of list) writeScalar(writer, type, item);
          writer.join();
        };
      }
      const wire = wireTypeOf(type);
      return (writer, m) => {
        for (const item of m[name] as unknown[]) writeScalar(writer.tag(field.number, wire), type, item);
      };
    }
    case "map": {
      const keyType = field.mapKey;
      const keyWire = wireTypeOf(keyType);
      const key = mapKeyFromString(keyType);
      const valueType = field.mapKind === "scalar" ? field.scalar : ScalarType.INT32;
      const valueWire = wireTypeOf(valueType);
      const sub = field.mapKind === "message" ? compileMessage(c, field.message) : undefined;
      return (writer, m) => {
        for (const [k, v] of Object.entries(m[name] as Record<string, unknown>)) {
          writer.tag(field.number, WireType.LengthDelimited).fork();
          writeScalar(writer.tag(1, keyWire), keyType, key(k));
          if (sub) {
            writer.tag(2, WireType.LengthDelimited).fork();
            sub(writer, v as Record<string, unknown>);
            writer.join();
          } else {
            writeScalar(writer.tag(2, valueWire), valueType, v);
          }
          writer.join();
        }
      };
    }
  }
}

function unsupported(field: DescField): Error {
  return new Error(`fast binary encoding does not support ${field.parent.typeName}.${field.name}`);
}

function isZero(type: ScalarType): (v: unknown) => boolean {
  switch (type) {
    case ScalarType.BOOL:
      return (v) => v === false;
    case ScalarType.STRING:
      return (v) => v === "";
    case ScalarType.BYTES:
      return (v) => v instanceof Uint8Array && v.byteLength === 0;
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return (v) => Object.is(v, 0);
    default:
      // biome-ignore lint/suspicious/noDoubleEquals: matches 0, 0n and "0", like protobuf-es
      return (v) => v == 0;
  }
}

function mapKeyFromString(type: ScalarType): (key: string) => unknown {
  switch (type) {
    case ScalarType.STRING:
      return (k) => k;
    case ScalarType.BOOL:
      return (k) => k === "true";
    case ScalarType.INT64:
    case ScalarType.UINT64:
    case ScalarType.SINT64:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return (k) => BigInt(k);
    default:
      return (k) => Number(k);
  }
}

function wireTypeOf(type: ScalarType): WireType {
  switch (type) {
    case ScalarType.BYTES:
    case ScalarType.STRING:
      return WireType.LengthDelimited;
    case ScalarType.DOUBLE:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return WireType.Bit64;
    case ScalarType.FIXED32:
    case ScalarType.SFIXED32:
    case ScalarType.FLOAT:
      return WireType.Bit32;
    default:
      return WireType.Varint;
  }
}

function writeScalar(writer: WireWriter, type: ScalarType, value: unknown): void {
  // biome-ignore lint/suspicious/noExplicitAny: each case passes what its writer accepts
  const v = value as any;
  switch (type) {
    case ScalarType.STRING:
      writer.string(v);
      break;
    case ScalarType.BOOL:
      writer.bool(v);
      break;
    case ScalarType.DOUBLE:
      writer.double(v);
      break;
    case ScalarType.FLOAT:
      writer.float(v);
      break;
    case ScalarType.INT32:
      writer.int32(v);
      break;
    case ScalarType.INT64:
      writer.int64(v);
      break;
    case ScalarType.UINT64:
      writer.uint64(v);
      break;
    case ScalarType.FIXED64:
      writer.fixed64(v);
      break;
    case ScalarType.BYTES:
      writer.bytes(v);
      break;
    case ScalarType.FIXED32:
      writer.fixed32(v);
      break;
    case ScalarType.SFIXED32:
      writer.sfixed32(v);
      break;
    case ScalarType.SFIXED64:
      writer.sfixed64(v);
      break;
    case ScalarType.SINT64:
      writer.sint64(v);
      break;
    case ScalarType.UINT32:
      writer.uint32(v);
      break;
    case ScalarType.SINT32:
      writer.sint32(v);
      break;
  }
}
