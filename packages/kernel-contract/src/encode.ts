// SPDX-License-Identifier: Apache-2.0
import { structs } from "./gen/nsguard-events.js";

/** A `struct nsguard_*` of bpf/include/nsguard_events.h, by name without `struct `. */
export type StructName = keyof typeof structs;

type Layouts = typeof structs;
type WideInteger = "u64" | "s64";

/** What a field's element takes: a nested struct as an object, 64-bit integers as bigint or safe integer. */
type ElementValue<T> = T extends StructName
  ? StructValue<T>
  : T extends WideInteger
    ? bigint | number
    : number;

type FieldValue<F> = F extends { type: "char"; length: number }
  ? string | Uint8Array
  : F extends { type: infer T; length: number }
    ? readonly ElementValue<T>[]
    : F extends { type: infer T }
      ? ElementValue<T>
      : never;

/**
 * A struct's value keyed by its C field names. A field left out is zero (padding, unused slots);
 * arrays shorter than the C array are zero-filled; char arrays take a string (UTF-8) or bytes.
 */
export type StructValue<N extends StructName> = {
  [K in keyof Layouts[N]["fields"]]?: FieldValue<Layouts[N]["fields"][K]>;
};

/** A value does not fit the struct it is encoded as; `path` names the field, e.g. `nsguard_hook.selectors[2].action`. */
export class KernelContractError extends Error {
  override readonly name = "KernelContractError";
  constructor(
    readonly path: string,
    problem: string,
  ) {
    super(`${path}: ${problem}`);
  }
}

export function isKernelContractError(err: unknown): err is KernelContractError {
  return err instanceof KernelContractError;
}

interface FieldLayout {
  readonly offset: number;
  readonly size: number;
  readonly type: string;
  readonly length?: number;
}
interface StructLayout {
  readonly size: number;
  readonly align: number;
  readonly fields: Readonly<Record<string, FieldLayout>>;
}
const layouts: Readonly<Record<string, StructLayout>> = structs;

// BPF maps hold values in the host's byte order.
const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const utf8 = new TextEncoder();

/** Integer element types: bytes, and the range as bigints (checked before writing). */
const INTEGERS: Readonly<Record<string, { bytes: number; min: bigint; max: bigint }>> = {
  u8: { bytes: 1, min: 0n, max: 0xffn },
  u16: { bytes: 2, min: 0n, max: 0xffffn },
  u32: { bytes: 4, min: 0n, max: 0xffff_ffffn },
  u64: { bytes: 8, min: 0n, max: 0xffff_ffff_ffff_ffffn },
  s8: { bytes: 1, min: -0x80n, max: 0x7fn },
  s16: { bytes: 2, min: -0x8000n, max: 0x7fffn },
  s32: { bytes: 4, min: -0x8000_0000n, max: 0x7fff_ffffn },
  s64: { bytes: 8, min: -0x8000_0000_0000_0000n, max: 0x7fff_ffff_ffff_ffffn },
  // A lone char: the byte, as signed or unsigned (its signedness is the compiler's choice).
  char: { bytes: 1, min: -0x80n, max: 0xffn },
};

/** sizeof(struct name). */
export function structSize(name: StructName): number {
  return layoutOf(name).size;
}

/**
 * Encodes `value` as `struct name` in the host's byte order, for a map update. Every field is
 * checked: an unknown key, a value out of its C type's range, or an array longer than the C array
 * throws KernelContractError naming the field's path.
 */
export function encodeStruct<N extends StructName>(name: N, value: StructValue<N>): Uint8Array {
  const bytes = new Uint8Array(layoutOf(name).size);
  writeStruct(new DataView(bytes.buffer), 0, name, value, name);
  return bytes;
}

function layoutOf(name: string): StructLayout {
  const layout = Object.hasOwn(layouts, name) ? layouts[name] : undefined;
  if (!layout) throw new KernelContractError(name, "no such struct in bpf/include/nsguard_events.h");
  return layout;
}

function writeStruct(view: DataView, at: number, name: string, value: unknown, path: string): void {
  if (typeof value !== "object" || value === null || Array.isArray(value) || value instanceof Uint8Array) {
    throw new KernelContractError(path, `must be an object (struct ${name})`);
  }
  const { fields } = layoutOf(name);
  for (const [key, v] of Object.entries(value)) {
    const field = Object.hasOwn(fields, key) ? fields[key] : undefined;
    if (!field) throw new KernelContractError(`${path}.${key}`, `struct ${name} has no field ${key}`);
    if (v !== undefined) writeField(view, at + field.offset, field, v, `${path}.${key}`);
  }
}

function writeField(view: DataView, at: number, field: FieldLayout, value: unknown, path: string): void {
  const { length } = field;
  if (length === undefined) {
    writeElement(view, at, field.type, value, path);
    return;
  }
  if (field.type === "char") {
    const bytes = typeof value === "string" ? utf8.encode(value) : value;
    if (!(bytes instanceof Uint8Array))
      throw new KernelContractError(path, "must be a string or a Uint8Array");
    if (bytes.length > length) {
      throw new KernelContractError(path, `${bytes.length} bytes do not fit char[${length}]`);
    }
    new Uint8Array(view.buffer, view.byteOffset + at, length).set(bytes);
    return;
  }
  if (!Array.isArray(value))
    throw new KernelContractError(path, `must be an array (at most ${length} elements)`);
  if (value.length > length) {
    throw new KernelContractError(path, `${value.length} elements do not fit ${field.type}[${length}]`);
  }
  const elementSize = field.size / length;
  value.forEach((element, i) => {
    writeElement(view, at + i * elementSize, field.type, element, `${path}[${i}]`);
  });
}

function writeElement(view: DataView, at: number, type: string, value: unknown, path: string): void {
  const integer = Object.hasOwn(INTEGERS, type) ? INTEGERS[type] : undefined;
  if (!integer) {
    writeStruct(view, at, type, value, path);
    return;
  }
  let v: bigint;
  if (typeof value === "bigint") {
    v = value;
  } else if (typeof value === "number" && Number.isSafeInteger(value)) {
    v = BigInt(value);
  } else {
    throw new KernelContractError(path, `must be an integer (${type}), got ${describe(value)}`);
  }
  if (v < integer.min || v > integer.max) {
    throw new KernelContractError(
      path,
      `${v} is out of range for ${type} (${integer.min} to ${integer.max})`,
    );
  }
  switch (integer.bytes) {
    case 1:
      view.setUint8(at, Number(BigInt.asUintN(8, v)));
      break;
    case 2:
      view.setUint16(at, Number(BigInt.asUintN(16, v)), littleEndian);
      break;
    case 4:
      view.setUint32(at, Number(BigInt.asUintN(32, v)), littleEndian);
      break;
    default:
      view.setBigUint64(at, BigInt.asUintN(64, v), littleEndian);
  }
}

function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number") return String(value);
  return typeof value;
}
