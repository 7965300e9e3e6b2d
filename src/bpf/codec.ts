// Codecs between TypeScript values and the bytes of map keys, map values and ring buffer records.
// Generated decoders (src/bpf/gen/*.gen.ts) build on these readers. All BPF data is host-endian;
// flowscope targets little-endian hosts (x86_64, arm64).

export const LITTLE_ENDIAN = true;
const TWO_32 = 2 ** 32;

/** Reads a u64 as a number: exact up to 2^53 (9 PiB of bytes), which every counter here stays under. */
export function readU64(view: DataView, offset: number): number {
  return view.getUint32(offset, true) + view.getUint32(offset + 4, true) * TWO_32;
}

export function readI64(view: DataView, offset: number): number {
  return view.getUint32(offset, true) + view.getInt32(offset + 4, true) * TWO_32;
}

export function writeU64(view: DataView, offset: number, value: number): void {
  view.setUint32(offset, value % TWO_32, true);
  view.setUint32(offset + 4, Math.floor(value / TWO_32), true);
}

export function writeI64(view: DataView, offset: number, value: number): void {
  view.setBigInt64(offset, BigInt(Math.trunc(value)), true);
}

/** A NUL-terminated C string in a fixed-size char array. */
export function readCString(view: DataView, offset: number, size: number): string {
  const bytes = new Uint8Array(view.buffer, view.byteOffset + offset, size);
  let end = bytes.indexOf(0);
  if (end < 0) end = size;
  return Buffer.from(bytes.buffer, bytes.byteOffset, end).toString('utf8');
}

export function writeCString(view: DataView, offset: number, size: number, value: string): void {
  const bytes = new Uint8Array(view.buffer, view.byteOffset + offset, size);
  bytes.fill(0);
  const encoded = Buffer.from(value, 'utf8').subarray(0, size - 1);
  bytes.set(encoded);
}

export function readBytes(view: DataView, offset: number, size: number): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset + offset, size);
}

export function writeBytes(view: DataView, offset: number, size: number, value: ArrayLike<number>): void {
  const bytes = new Uint8Array(view.buffer, view.byteOffset + offset, size);
  bytes.fill(0);
  bytes.set(Array.from(value).slice(0, size));
}

/** Turns values of type T into bytes and back. */
export interface Codec<T> {
  readonly size: number;
  decode(view: DataView, offset: number): T;
  encode(value: T, view: DataView, offset: number): void;
}

export const u8: Codec<number> = {
  size: 1,
  decode: (v, o) => v.getUint8(o),
  encode: (x, v, o) => v.setUint8(o, x),
};
export const u16: Codec<number> = {
  size: 2,
  decode: (v, o) => v.getUint16(o, true),
  encode: (x, v, o) => v.setUint16(o, x, true),
};
export const u32: Codec<number> = {
  size: 4,
  decode: (v, o) => v.getUint32(o, true),
  encode: (x, v, o) => v.setUint32(o, x, true),
};
export const i32: Codec<number> = {
  size: 4,
  decode: (v, o) => v.getInt32(o, true),
  encode: (x, v, o) => v.setInt32(o, x, true),
};
export const u64: Codec<number> = { size: 8, decode: readU64, encode: (x, v, o) => writeU64(v, o, x) };
export const i64: Codec<number> = { size: 8, decode: readI64, encode: (x, v, o) => writeI64(v, o, x) };

/** Raw bytes of a fixed size, for keys or values no decoder describes. */
export function bytes(size: number): Codec<Uint8Array> {
  return {
    size,
    decode: (v, o) => new Uint8Array(v.buffer.slice(v.byteOffset + o, v.byteOffset + o + size)),
    encode: (x, v, o) => writeBytes(v, o, size, x),
  };
}

/** Encodes one value into a fresh buffer. */
export function encodeToBuffer<T>(codec: Codec<T>, value: T, size = codec.size): Buffer {
  const buf = Buffer.alloc(size);
  codec.encode(value, new DataView(buf.buffer, buf.byteOffset, buf.byteLength), 0);
  return buf;
}

export function viewOf(buf: Buffer | Uint8Array): DataView {
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
}
