// Label decoders: each label is a slice of a map key turned into text by a chain of small decoders
// (as in Cloudflare ebpf_exporter). The first decoder sees the key's bytes; the next ones see the text
// the previous one produced. Decoders that need a number read it from bytes (little-endian unless
// byte_order: big) or parse it from text, so `[uint, syscall]` and `[syscall]` both work.
// A decoder returns null to drop the key (static_map without allow_unknown, regexp with no match).
import { constants } from 'node:os';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isIP } from 'node:net';
import type { DecoderSpec } from '../schema.js';
import { SYSCALLS_X86_64 } from './syscalls.gen.js';
import { identityFromCgroupPath, type PodIndex } from './kube.js';
import { AF_INET, AF_INET6, formatAddr } from '../../model/addr.js';

/** Where decoders look things up; tests point it at fixtures or at the real system. */
export interface DecoderEnv {
  /** cgroup v2 id (inode) → path relative to the hierarchy root, or undefined. */
  cgroupPath(id: number): string | undefined;
  /** Process's cgroup v2 path and name, or undefined when it is gone. */
  processComm(pid: number): string | undefined;
  processCgroup(pid: number): string | undefined;
  /** Kernel symbol containing `addr` (as `name` or `name+0xoff`), or undefined. */
  ksym(addr: bigint): string | undefined;
  ifname(index: number): string | undefined;
  blockDevice(major: number, minor: number): string | undefined;
  pods?: PodIndex;
}

export type Decoded = string | null;

export interface Decoder {
  readonly name: string;
  /** Static decoders always give the same text for the same bytes (their results may be cached forever). */
  readonly static: boolean;
  fromBytes(b: Buffer): Decoded;
  fromText(s: string): Decoded;
}

function readUint(b: Buffer, big: boolean): bigint {
  if (b.length === 1) return BigInt(b[0]!);
  if (b.length === 2) return BigInt(big ? b.readUInt16BE(0) : b.readUInt16LE(0));
  if (b.length === 4) return BigInt(big ? b.readUInt32BE(0) : b.readUInt32LE(0));
  if (b.length === 8) return big ? b.readBigUInt64BE(0) : b.readBigUInt64LE(0);
  let v = 0n;
  if (big) for (let i = 0; i < b.length; i++) v = (v << 8n) | BigInt(b[i]!);
  else for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
  return v;
}

function parseNumber(s: string): bigint | undefined {
  const t = s.trim();
  try {
    if (/^-?\d+$/.test(t)) return BigInt(t);
    if (/^0x[0-9a-f]+$/i.test(t)) return BigInt(t);
  } catch {
    return undefined;
  }
  return undefined;
}

/** A decoder that works on a number: from bytes (LE/BE) or from text. */
function numeric(name: string, isStatic: boolean, f: (n: bigint, size: number) => Decoded, big = false): Decoder {
  return {
    name,
    static: isStatic,
    fromBytes: (b) => f(readUint(b, big), b.length),
    fromText: (s) => {
      const n = parseNumber(s);
      return n === undefined ? s : f(n, 0);
    },
  };
}

const IP_PROTOCOLS: Record<number, string> = {
  0: 'hopopt', 1: 'icmp', 2: 'igmp', 4: 'ipip', 6: 'tcp', 8: 'egp', 17: 'udp', 33: 'dccp', 41: 'ipv6', 43: 'ipv6-route',
  44: 'ipv6-frag', 46: 'rsvp', 47: 'gre', 50: 'esp', 51: 'ah', 58: 'ipv6-icmp', 59: 'ipv6-nonxt', 60: 'ipv6-opts', 89: 'ospf',
  103: 'pim', 108: 'comp', 112: 'vrrp', 115: 'l2tp', 132: 'sctp', 136: 'udplite', 137: 'mpls-in-ip', 143: 'ethernet', 255: 'raw', 262: 'mptcp',
};

// The first name of each number (EAGAIN before EWOULDBLOCK, EDEADLK before EDEADLOCK).
const ERRNO_NAMES = new Map<number, string>();
for (const [k, v] of Object.entries(constants.errno)) if (!ERRNO_NAMES.has(v)) ERRNO_NAMES.set(v, k);
ERRNO_NAMES.set(512, 'ERESTARTSYS').set(513, 'ERESTARTNOINTR').set(514, 'ERESTARTNOHAND').set(515, 'ENOIOCTLCMD');
ERRNO_NAMES.set(516, 'ERESTART_RESTARTBLOCK').set(524, 'ENOTSUPP');

function syscallName(n: bigint): string {
  const name = process.arch === 'x64' && n >= 0n && n < BigInt(SYSCALLS_X86_64.length) ? SYSCALLS_X86_64[Number(n)] : undefined;
  return name ?? String(n);
}

function inetIp(b: Buffer): string {
  if (b.length === 4) return formatAddr(AF_INET, b);
  // IPv4-mapped (::ffff:a.b.c.d) shows as the IPv4 address.
  if (b.length === 16) return formatAddr(AF_INET6, b);
  return b.toString('hex');
}

function podField(env: DecoderEnv, path: string | undefined, output: string): string {
  if (path === undefined) return '';
  const id = identityFromCgroupPath(path);
  switch (output) {
    case 'container_id':
      return id.containerId;
    case 'pod_uid':
      return id.podUid;
    case 'pod':
      return env.pods?.podOf(id)?.name ?? '';
    case 'namespace':
      return env.pods?.podOf(id)?.namespace ?? '';
    case 'container':
      return env.pods?.podOf(id)?.containers.get(id.containerId) ?? '';
    default:
      return path;
  }
}

/** Builds one decoder from its configuration. */
export function createDecoder(spec: DecoderSpec, env: DecoderEnv): Decoder {
  const big = spec.byte_order === 'big';
  switch (spec.name) {
    case 'uint':
      return numeric('uint', true, (n) => String(n), big);
    case 'hex':
      return {
        name: 'hex',
        static: true,
        // Bytes in memory order, as ebpf_exporter does; byte_order: little reads them as a number.
        fromBytes: (b) => (spec.byte_order === 'little' ? readUint(b, false).toString(16) : b.toString('hex')),
        fromText: (s) => {
          const n = parseNumber(s);
          return n === undefined ? Buffer.from(s).toString('hex') : n.toString(16);
        },
      };
    case 'string':
      return {
        name: 'string',
        static: true,
        fromBytes: (b) => {
          const end = b.indexOf(0);
          return b.toString('utf8', 0, end < 0 ? b.length : end);
        },
        fromText: (s) => s,
      };
    case 'inet_ip':
      return { name: 'inet_ip', static: true, fromBytes: inetIp, fromText: (s) => (isIP(s) ? s : s) };
    case 'port':
      // Ports in packet headers and socket fields are in network byte order.
      return numeric('port', true, (n) => String(n), spec.byte_order !== 'little');
    case 'ip_protocol':
      return numeric('ip_protocol', true, (n) => IP_PROTOCOLS[Number(n)] ?? String(n), big);
    case 'syscall':
      return numeric('syscall', true, syscallName, big);
    case 'errno':
      return numeric('errno', true, (n, size) => {
        let v = n;
        if (size === 4 || size === 0) v = v >= 2n ** 31n && v < 2n ** 32n ? v - 2n ** 32n : v;
        if (v >= 2n ** 63n) v -= 2n ** 64n;
        const abs = Number(v < 0n ? -v : v);
        if (abs === 0) return '0';
        return ERRNO_NAMES.get(abs) ?? String(abs);
      }, big);
    case 'ksym':
      return numeric('ksym', false, (n) => env.ksym(n) ?? `0x${n.toString(16)}`, big);
    case 'cgroup': {
      const output = spec.output ?? 'path';
      return numeric('cgroup', false, (n) => (output === 'path' ? (env.cgroupPath(Number(n)) ?? String(n)) : podField(env, env.cgroupPath(Number(n)), output)), big);
    }
    case 'pid': {
      const output = spec.output ?? 'comm';
      return numeric('pid', false, (n) => {
        const pid = Number(n);
        if (output === 'comm') return env.processComm(pid) ?? '';
        const cg = env.processCgroup(pid);
        return output === 'cgroup' ? (cg ?? '') : podField(env, cg, output);
      }, big);
    }
    case 'majorminor':
      // Kernel-internal dev_t: major in the top 12 bits, minor in the low 20 (MINORBITS).
      return numeric('majorminor', false, (n) => {
        const major = Number(n >> 20n);
        const minor = Number(n & 0xfffffn);
        return env.blockDevice(major, minor) ?? `${major}:${minor}`;
      }, big);
    case 'ifname':
      return numeric('ifname', false, (n) => env.ifname(Number(n)) ?? String(n), big);
    case 'static_map': {
      const table = new Map(Object.entries(spec.static_map ?? {}).map(([k, v]) => [k, String(v)]));
      const allow = spec.allow_unknown ?? false;
      const look = (s: string): Decoded => table.get(s) ?? (allow ? s : null);
      return { name: 'static_map', static: true, fromBytes: (b) => look(String(readUint(b, big))), fromText: look };
    }
    case 'regexp': {
      const res = (spec.regexps ?? []).map((r) => new RegExp(r));
      const f = (s: string): Decoded => (res.some((r) => r.test(s)) ? s : null);
      return { name: 'regexp', static: true, fromBytes: (b) => f(b.toString('utf8').replace(/\0.*$/s, '')), fromText: f };
    }
    default:
      throw new Error(`decoder '${spec.name}' is not supported by flowscope`);
  }
}

/** A label: where it sits in the key, and its decoder chain. */
export class LabelDecoder {
  readonly static: boolean;
  constructor(
    readonly name: string,
    readonly offset: number,
    readonly size: number,
    readonly chain: Decoder[],
  ) {
    this.static = chain.every((d) => d.static);
  }

  decode(key: Buffer): Decoded {
    const bytes = key.subarray(this.offset, this.offset + this.size);
    if (this.chain.length === 0) return String(readUint(bytes, false));
    let v: Decoded = this.chain[0]!.fromBytes(bytes);
    for (let i = 1; i < this.chain.length && v !== null; i++) v = this.chain[i]!.fromText(v);
    return v;
  }
}

// ---- the real system ----

interface Kallsyms {
  addrs: BigUint64Array;
  names: string[];
}

/** Lookups against this machine: /proc, /sys, the cgroup v2 hierarchy, /proc/kallsyms. */
export class SystemDecoderEnv implements DecoderEnv {
  private kallsyms: Kallsyms | undefined;
  private ifnames = new Map<number, string>();
  private ifnamesAt = 0;

  constructor(
    private readonly cgroups: { name(id: number): string },
    readonly pods?: PodIndex,
    private readonly procRoot = '/proc',
    private readonly sysRoot = '/sys',
  ) {}

  cgroupPath(id: number): string | undefined {
    const p = this.cgroups.name(id);
    return p === String(id) ? undefined : p;
  }

  processComm(pid: number): string | undefined {
    try {
      return readFileSync(join(this.procRoot, String(pid), 'comm'), 'utf8').trim();
    } catch {
      return undefined;
    }
  }

  processCgroup(pid: number): string | undefined {
    try {
      const line = readFileSync(join(this.procRoot, String(pid), 'cgroup'), 'utf8')
        .split('\n')
        .find((l) => l.startsWith('0::'));
      return line?.slice(3);
    } catch {
      return undefined;
    }
  }

  private loadKallsyms(): Kallsyms {
    const entries: Array<[bigint, string]> = [];
    try {
      for (const line of readFileSync(join(this.procRoot, 'kallsyms'), 'utf8').split('\n')) {
        const sp1 = line.indexOf(' ');
        if (sp1 < 0) continue;
        const type = line[sp1 + 1];
        if (type !== 't' && type !== 'T' && type !== 'w' && type !== 'W') continue;
        const addr = BigInt(`0x${line.slice(0, sp1)}`);
        if (addr === 0n) continue;
        const rest = line.slice(sp1 + 3);
        const tab = rest.indexOf('\t');
        entries.push([addr, tab < 0 ? rest : rest.slice(0, tab)]);
      }
    } catch {
      // no kallsyms: addresses stay hexadecimal
    }
    entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    return { addrs: BigUint64Array.from(entries.map((e) => e[0])), names: entries.map((e) => e[1]) };
  }

  ksym(addr: bigint): string | undefined {
    this.kallsyms ??= this.loadKallsyms();
    const { addrs, names } = this.kallsyms;
    let lo = 0;
    let hi = addrs.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (addrs[mid]! <= addr) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (found < 0) return undefined;
    const off = addr - addrs[found]!;
    return off === 0n ? names[found] : `${names[found]}+0x${off.toString(16)}`;
  }

  ifname(index: number): string | undefined {
    if (!this.ifnames.has(index) && Date.now() - this.ifnamesAt > 1000) {
      this.ifnamesAt = Date.now();
      this.ifnames = new Map();
      try {
        for (const name of readdirSync(join(this.sysRoot, 'class/net'))) {
          try {
            this.ifnames.set(Number(readFileSync(join(this.sysRoot, 'class/net', name, 'ifindex'), 'utf8')), name);
          } catch {
            // gone
          }
        }
      } catch {
        // no sysfs
      }
    }
    return this.ifnames.get(index);
  }

  blockDevice(major: number, minor: number): string | undefined {
    try {
      const m = /^DEVNAME=(.+)$/m.exec(readFileSync(join(this.sysRoot, 'dev/block', `${major}:${minor}`, 'uevent'), 'utf8'));
      return m?.[1];
    } catch {
      return undefined;
    }
  }
}
