// The kernel's packet drop reasons (enum skb_drop_reason), read from its BTF at run time: names and
// values change between kernel versions, so they are never hard-coded.
import { readFileSync } from 'node:fs';

const BTF_MAGIC = 0xeb9f;
// BTF kinds (include/uapi/linux/btf.h)
const KIND = { INT: 1, PTR: 2, ARRAY: 3, STRUCT: 4, UNION: 5, ENUM: 6, FWD: 7, TYPEDEF: 8, VOLATILE: 9, CONST: 10, RESTRICT: 11, FUNC: 12, FUNC_PROTO: 13, VAR: 14, DATASEC: 15, FLOAT: 16, DECL_TAG: 17, TYPE_TAG: 18, ENUM64: 19 } as const;

export class BtfError extends Error {}

/** Values of the enum `name` in a raw BTF blob (as in /sys/kernel/btf/vmlinux), or undefined. */
export function btfEnum(btf: Buffer, name: string): Map<number, string> | undefined {
  if (btf.length < 24 || btf.readUInt16LE(0) !== BTF_MAGIC) throw new BtfError('not a BTF blob (bad magic): expected /sys/kernel/btf/vmlinux');
  const hdrLen = btf.readUInt32LE(4);
  const typeOff = btf.readUInt32LE(8);
  const typeLen = btf.readUInt32LE(12);
  const strOff = btf.readUInt32LE(16);
  const strLen = btf.readUInt32LE(20);
  const types = hdrLen + typeOff;
  const strs = hdrLen + strOff;
  if (types + typeLen > btf.length || strs + strLen > btf.length) throw new BtfError('truncated BTF blob');
  const str = (off: number): string => {
    const start = strs + off;
    const end = btf.indexOf(0, start);
    return btf.toString('latin1', start, end < 0 ? strs + strLen : end);
  };
  for (let p = types; p + 12 <= types + typeLen; ) {
    const nameOff = btf.readUInt32LE(p);
    const info = btf.readUInt32LE(p + 4);
    const kind = (info >>> 24) & 0x1f;
    const vlen = info & 0xffff;
    p += 12;
    if ((kind === KIND.ENUM || kind === KIND.ENUM64) && str(nameOff) === name) {
      const out = new Map<number, string>();
      const stride = kind === KIND.ENUM ? 8 : 12;
      const signed = info >>> 31 === 1; // kind_flag: signed values
      for (let i = 0; i < vlen; i++) {
        const o = p + i * stride;
        out.set(signed ? btf.readInt32LE(o + 4) : btf.readUInt32LE(o + 4), str(btf.readUInt32LE(o)));
      }
      return out;
    }
    switch (kind) {
      case KIND.INT:
      case KIND.VAR:
      case KIND.DECL_TAG:
        p += 4;
        break;
      case KIND.ARRAY:
        p += 12;
        break;
      case KIND.STRUCT:
      case KIND.UNION:
      case KIND.DATASEC:
        p += 12 * vlen;
        break;
      case KIND.ENUM:
      case KIND.FUNC_PROTO:
        p += 8 * vlen;
        break;
      case KIND.ENUM64:
        p += 12 * vlen;
        break;
      case KIND.PTR:
      case KIND.FWD:
      case KIND.TYPEDEF:
      case KIND.VOLATILE:
      case KIND.CONST:
      case KIND.RESTRICT:
      case KIND.FUNC:
      case KIND.FLOAT:
      case KIND.TYPE_TAG:
        break;
      default:
        throw new BtfError(`unknown BTF kind ${kind}: this parser predates the kernel's BTF`);
    }
  }
  return undefined;
}

const PREFIX = 'SKB_DROP_REASON_';

/** Drop reason value → short name (NO_SOCKET, NETFILTER_DROP...), from the running kernel's BTF. */
export class DropReasons {
  private readonly names: Map<number, string>;
  readonly source: string;

  constructor(path = '/sys/kernel/btf/vmlinux') {
    let names: Map<number, string> | undefined;
    try {
      names = btfEnum(readFileSync(path), 'skb_drop_reason');
      this.source = names ? `${path}: enum skb_drop_reason (${names.size} values)` : `${path} has no enum skb_drop_reason (kernel older than 5.17)`;
    } catch (err) {
      this.source = `${path} unreadable: ${(err as Error).message}`;
    }
    this.names = new Map([...(names ?? new Map<number, string>())].map(([v, n]) => [v, n.startsWith(PREFIX) ? n.slice(PREFIX.length) : n]));
  }

  get size(): number {
    return this.names.size;
  }

  name(value: number): string {
    const n = this.names.get(value);
    if (n !== undefined) return n;
    // Subsystem reasons (mac80211, openvswitch...) carry the subsystem in the upper 16 bits.
    const subsys = value >>> 16;
    return subsys ? `subsys_${subsys}_${value & 0xffff}` : `reason_${value}`;
  }

  value(name: string): number | undefined {
    for (const [v, n] of this.names) if (n === name) return v;
    return undefined;
  }
}
