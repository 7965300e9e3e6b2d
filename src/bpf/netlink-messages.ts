// Decodes the netlink messages of native/netlink.cc (rtnetlink link messages, host byte order):
// nlmsghdr, then for RTM_NEWLINK/RTM_DELLINK an ifinfomsg and its attributes. One LinkMessage is
// reused for every message; the interface name is the only allocation.
import { endianness } from 'node:os';

export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const RTM_NEWLINK = 16;
export const RTM_DELLINK = 17;
export const NLM_F_MULTI = 0x2;
/** A dump was interrupted by a change: its listing may be incomplete. */
export const NLM_F_DUMP_INTR = 0x10;
export const AF_UNSPEC = 0;
export const IFF_UP = 0x1;
export const ENOBUFS = 105;

const IFLA_IFNAME = 3;
const IFLA_MTU = 4;
const IFLA_OPERSTATE = 16;
const NLA_TYPE_MASK = 0x3fff;
const NLMSGHDR_LEN = 16;
const IFINFOMSG_LEN = 16;

/** Link types (if_arp.h) the flow classifier knows. */
export const ARPHRD = {
  ETHER: 1,
  TUNNEL: 768,
  TUNNEL6: 769,
  LOOPBACK: 772,
  SIT: 776,
  IPGRE: 778,
  IP6GRE: 823,
  NONE: 0xfffe,
} as const;

/** iproute2's names for those types (`ip -j link`'s link_type). */
export const ARPHRD_NAMES: Record<number, string> = {
  [ARPHRD.ETHER]: 'ether',
  [ARPHRD.TUNNEL]: 'ipip',
  [ARPHRD.TUNNEL6]: 'tunnel6',
  [ARPHRD.LOOPBACK]: 'loopback',
  [ARPHRD.SIT]: 'sit',
  [ARPHRD.IPGRE]: 'gre',
  [ARPHRD.IP6GRE]: 'ip6gre',
  [ARPHRD.NONE]: 'none',
};

export function arphrdName(type: number): string {
  return type < 0 ? 'unknown' : (ARPHRD_NAMES[type] ?? `ARPHRD ${type}`);
}

const ARPHRD_BY_NAME = new Map(Object.entries(ARPHRD_NAMES).map(([n, name]) => [name, Number(n)]));

/** iproute2's link_type as ARPHRD_* (-1: unknown). */
export function arphrdOf(linkType: string | undefined): number {
  if (linkType === undefined) return -1;
  const known = ARPHRD_BY_NAME.get(linkType);
  if (known !== undefined) return known;
  const numeric = /^\[(\d+)\]$/.exec(linkType); // iproute2 prints unnamed types as [N]
  return numeric ? Number(numeric[1]) : -1;
}

/** IF_OPER_* (RFC 2863), as `ip link` prints them. */
export const OPERSTATES = ['UNKNOWN', 'NOTPRESENT', 'DOWN', 'LOWERLAYERDOWN', 'TESTING', 'DORMANT', 'UP'] as const;

export class LinkMessage {
  /** nlmsghdr */
  type = 0;
  flags = 0;
  seq = 0;
  /** ifinfomsg (link messages only) */
  family = 0;
  ifindex = 0;
  /** ARPHRD_* */
  linkType = 0;
  ifFlags = 0;
  /** IFLA_IFNAME ('' when absent) */
  name = '';
  /** IFLA_OPERSTATE (IF_OPER_*), -1 when absent */
  operstate = -1;
  /** IFLA_MTU, 0 when absent */
  mtu = 0;
  /** NLMSG_ERROR, NLMSG_DONE: the errno they carry (0: none). */
  error = 0;
}

const littleEndian = endianness() === 'LE';

/**
 * Calls `fn` for each message in `buf` with `m` filled in (the same object each time: copy what
 * must outlive the call). A truncated tail is ignored.
 */
export function forEachLinkMessage(buf: Buffer, fn: (m: LinkMessage) => void, m = new LinkMessage()): void {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const le = littleEndian;
  const end = buf.byteLength;
  for (let off = 0; off + NLMSGHDR_LEN <= end; ) {
    const len = view.getUint32(off, le);
    if (len < NLMSGHDR_LEN || off + len > end) return;
    m.type = view.getUint16(off + 4, le);
    m.flags = view.getUint16(off + 6, le);
    m.seq = view.getUint32(off + 8, le);
    m.family = m.ifindex = m.linkType = m.ifFlags = m.error = m.mtu = 0;
    m.name = '';
    m.operstate = -1;
    const body = off + NLMSGHDR_LEN;
    if ((m.type === RTM_NEWLINK || m.type === RTM_DELLINK) && len >= NLMSGHDR_LEN + IFINFOMSG_LEN) {
      m.family = view.getUint8(body);
      m.linkType = view.getUint16(body + 2, le);
      m.ifindex = view.getInt32(body + 4, le);
      m.ifFlags = view.getUint32(body + 8, le);
      readAttributes(buf, view, body + IFINFOMSG_LEN, off + len, m);
    } else if ((m.type === NLMSG_ERROR || m.type === NLMSG_DONE) && len >= NLMSGHDR_LEN + 4) {
      const e = view.getInt32(body, le); // a negative errno
      m.error = e === 0 ? 0 : -e;
    }
    fn(m);
    off += (len + 3) & ~3;
  }
}

function readAttributes(buf: Buffer, view: DataView, start: number, end: number, m: LinkMessage): void {
  const le = littleEndian;
  for (let a = start; a + 4 <= end; ) {
    const alen = view.getUint16(a, le);
    if (alen < 4 || a + alen > end) return;
    const type = view.getUint16(a + 2, le) & NLA_TYPE_MASK;
    if (type === IFLA_IFNAME) {
      const nul = buf.indexOf(0, a + 4);
      m.name = buf.toString('utf8', a + 4, nul >= 0 && nul < a + alen ? nul : a + alen);
    } else if (type === IFLA_OPERSTATE && alen >= 5) {
      m.operstate = view.getUint8(a + 4);
    } else if (type === IFLA_MTU && alen >= 8) {
      m.mtu = view.getUint32(a + 4, le);
    }
    a += (alen + 3) & ~3;
  }
}
