import { formatIPv6 } from '../../model/addr.js';
// DNS messages (RFC 1035) as the kernel handed them up: header, the first question, and the A/AAAA
// answers, read straight from the record's DataView. Bounded: a truncated or malformed message is
// refused (null), never thrown.

export interface DnsMessage {
  id: number;
  response: boolean;
  rcode: number;
  qtype: number;
  /** The first question's name, lowercase, without the trailing dot. */
  name: string;
  /** A and AAAA answers (addresses as text) with their TTLs. */
  answers: Array<{ addr: string; ttl: number }>;
}

export const RCODES: Record<number, string> = { 0: 'NOERROR', 1: 'FORMERR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 4: 'NOTIMP', 5: 'REFUSED', 6: 'YXDOMAIN', 7: 'YXRRSET', 8: 'NXRRSET', 9: 'NOTAUTH', 10: 'NOTZONE' };
export const QTYPES: Record<number, string> = { 1: 'A', 2: 'NS', 5: 'CNAME', 6: 'SOA', 12: 'PTR', 15: 'MX', 16: 'TXT', 28: 'AAAA', 33: 'SRV', 35: 'NAPTR', 64: 'SVCB', 65: 'HTTPS', 255: 'ANY' };

export const rcodeName = (r: number): string => RCODES[r] ?? `RCODE${r}`;
export const qtypeName = (t: number): string => QTYPES[t] ?? `TYPE${t}`;

/** Reads a (possibly compressed) name at `off`; returns [name, offset after it] or null. */
function readName(v: DataView, start: number, off: number, end: number): [string, number] | null {
  const labels: string[] = [];
  let after = -1;
  let jumps = 0;
  let total = 0;
  for (;;) {
    if (off >= end) return null;
    const len = v.getUint8(off);
    if (len === 0) {
      off++;
      break;
    }
    if ((len & 0xc0) === 0xc0) {
      if (off + 1 >= end || ++jumps > 16) return null;
      const ptr = ((len & 0x3f) << 8) | v.getUint8(off + 1);
      if (after < 0) after = off + 2;
      off = start + ptr;
      continue;
    }
    if (len & 0xc0 || off + 1 + len > end) return null;
    let label = '';
    for (let i = 0; i < len; i++) {
      const c = v.getUint8(off + 1 + i);
      label += String.fromCharCode(c >= 0x41 && c <= 0x5a ? c + 32 : c);
    }
    labels.push(label);
    total += len + 1;
    if (total > 255) return null;
    off += 1 + len;
  }
  return [labels.join('.'), after < 0 ? off : after];
}

function addrText(v: DataView, off: number, len: number): string {
  const b = new Uint8Array(v.buffer, v.byteOffset + off, len);
  return len === 4 ? `${b[0]}.${b[1]}.${b[2]}.${b[3]}` : formatIPv6(b);
}

/** Parses the message in v[start, start+len). */
export function parseDns(v: DataView, start: number, len: number): DnsMessage | null {
  const end = start + len;
  if (len < 12) return null;
  const id = v.getUint16(start);
  const flags = v.getUint16(start + 2);
  const qd = v.getUint16(start + 4);
  const an = v.getUint16(start + 6);
  if ((flags >> 11) & 0xf) return null; // not a standard query (opcode)
  const msg: DnsMessage = { id, response: (flags & 0x8000) !== 0, rcode: flags & 0xf, qtype: 0, name: '', answers: [] };
  let off = start + 12;
  if (qd < 1) return msg.response ? msg : null;
  const q = readName(v, start, off, end);
  if (!q || q[1] + 4 > end) return null;
  msg.name = q[0];
  msg.qtype = v.getUint16(q[1]);
  off = q[1] + 4;
  for (let i = 1; i < qd; i++) {
    const more = readName(v, start, off, end);
    if (!more) return msg;
    off = more[1] + 4;
  }
  for (let i = 0; i < an && off < end; i++) {
    const rr = readName(v, start, off, end);
    if (!rr || rr[1] + 10 > end) break;
    const type = v.getUint16(rr[1]);
    const ttl = v.getUint32(rr[1] + 4);
    const rdlen = v.getUint16(rr[1] + 8);
    const rd = rr[1] + 10;
    if (rd + rdlen > end) break;
    if ((type === 1 && rdlen === 4) || (type === 28 && rdlen === 16)) msg.answers.push({ addr: addrText(v, rd, rdlen), ttl });
    off = rd + rdlen;
  }
  return msg;
}
