import { ConnIdLayout, ConnEventLayout, ConnValueLayout } from '../../bpf/gen/tcp.gen.js';

/** A 53-bit key from a socket's kernel address: exact, unlike a u64 read as a double. */
export function skKeyAt(view: DataView, offsetOfSk: number): number {
  return (view.getUint32(offsetOfSk + 4, true) & 0x1fffff) * 2 ** 32 + view.getUint32(offsetOfSk, true);
}

export const EVENT_SK_OFFSET = ConnEventLayout.fields.id.offset + ConnIdLayout.fields.sk.offset;
export const VALUE_SK_OFFSET = ConnValueLayout.fields.id.offset + ConnIdLayout.fields.sk.offset;
