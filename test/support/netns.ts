// Real network namespaces and veth pairs for tests, with unique names and guaranteed clean-up.
import { randomBytes } from 'node:crypto';
import { sh } from './run.js';

export function uniqueName(prefix: string): string {
  // Interface names are limited to 15 characters.
  return `${prefix}${randomBytes(3).toString('hex')}`.slice(0, 15);
}

export interface VethPair {
  /** Host-side interface (in the root namespace). */
  host: string;
  /** Peer interface, moved into `ns`. */
  peer: string;
  ns: string;
  hostAddr: string;
  peerAddr: string;
  /** The IPv6 addresses (assigned only with `ipv6: true`). */
  hostAddr6: string;
  peerAddr6: string;
  /** Runs a command inside the namespace. */
  exec(cmd: string, args: string[], timeoutMs?: number): string;
  destroy(): void;
}

export interface VethOptions {
  /** First two octets of the /24 (default 10.77). */
  net?: string;
  /** Name prefixes of the namespace, the host side and the peer side. */
  names?: [string, string, string];
  /**
   * IPv6 on the pair: 'auto' leaves the kernel's default; false turns it off before the links come
   * up (no ND or MLD packet on them); true adds fd<net>::1 and ::2 (no DAD).
   */
  ipv6?: boolean | 'auto';
}

/**
 * A third octet in [from, from + span) that no address of this host's root namespace uses in
 * `net` (a fixture another test left behind, or one running beside this one, would make a second
 * route to the same /24 and take this one's traffic). Random among the free ones.
 */
export function freeSubnet(net: string, from: number, span: number): number {
  const used = new Set<number>();
  for (const m of sh('ip', ['-o', '-4', 'addr', 'show']).matchAll(new RegExp(`inet ${net.replace(/\./g, '\\.')}\\.(\\d+)\\.`, 'g'))) used.add(Number(m[1]));
  const free = Array.from({ length: span }, (_, i) => from + i).filter((x) => !used.has(x));
  if (free.length === 0) throw new Error(`no free ${net}.X.0/24 in ${from}-${from + span - 1}: remove the leftovers (ip -br addr | grep ${net})`);
  return free[Math.floor(Math.random() * free.length)]!;
}

/**
 * A network namespace connected to the root namespace by a veth pair, addressed from 10.x (never
 * a real network). `subnet` is the third octet, free on this host unless given.
 */
export function createVethNamespace(subnet?: number, options: VethOptions = {}): VethPair {
  const [nsPrefix, hostPrefix, peerPrefix] = options.names ?? ['fsns', 'fsh', 'fsp'];
  const ns = uniqueName(nsPrefix);
  const host = uniqueName(hostPrefix);
  const peer = uniqueName(peerPrefix);
  const net = options.net ?? '10.77';
  subnet ??= freeSubnet(net, 100, 100);
  const hostAddr = `${net}.${subnet}.1`;
  const peerAddr = `${net}.${subnet}.2`;
  const v6 = `fd${net.split('.')[1]}:${subnet.toString(16)}::`;
  const ipv6 = options.ipv6 ?? 'auto';
  const destroy = (): void => {
    sh('ip', ['link', 'del', host], { allowFail: true });
    sh('ip', ['netns', 'del', ns], { allowFail: true });
  };
  try {
    sh('ip', ['netns', 'add', ns]);
    sh('ip', ['link', 'add', host, 'type', 'veth', 'peer', 'name', peer]);
    sh('ip', ['link', 'set', peer, 'netns', ns]);
    if (ipv6 !== 'auto') {
      const off = ipv6 ? '0' : '1';
      sh('sysctl', ['-qw', `net.ipv6.conf.${host}.disable_ipv6=${off}`]);
      sh('ip', ['netns', 'exec', ns, 'sysctl', '-qw', `net.ipv6.conf.${peer}.disable_ipv6=${off}`]);
    }
    sh('ip', ['addr', 'add', `${hostAddr}/24`, 'dev', host]);
    sh('ip', ['-n', ns, 'addr', 'add', `${peerAddr}/24`, 'dev', peer]);
    if (ipv6 === true) {
      sh('ip', ['addr', 'add', `${v6}1/64`, 'dev', host, 'nodad']);
      sh('ip', ['-n', ns, 'addr', 'add', `${v6}2/64`, 'dev', peer, 'nodad']);
    }
    sh('ip', ['link', 'set', host, 'up']);
    sh('ip', ['-n', ns, 'link', 'set', peer, 'up']);
    sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  } catch (err) {
    destroy();
    throw err;
  }
  return {
    host,
    peer,
    ns,
    hostAddr,
    peerAddr,
    hostAddr6: `${v6}1`,
    peerAddr6: `${v6}2`,
    exec: (cmd, args, timeoutMs) => sh('ip', ['netns', 'exec', ns, cmd, ...args], { timeoutMs }),
    destroy,
  };
}

export interface NamespacePair {
  /** Client side namespace and its address. */
  a: { ns: string; dev: string; addr: string };
  /** Server side namespace and its address. */
  b: { ns: string; dev: string; addr: string };
  exec(ns: string, cmd: string, args: string[]): string;
  destroy(): void;
}

/** Two network namespaces joined by a veth pair: two hosts on one wire. */
export function createNamespacePair(subnet = 100 + Math.floor(Math.random() * 100)): NamespacePair {
  const nsA = uniqueName('fsa');
  const nsB = uniqueName('fsb');
  const devA = uniqueName('fva');
  const devB = uniqueName('fvb');
  const addrA = `10.88.${subnet}.1`;
  const addrB = `10.88.${subnet}.2`;
  const destroy = (): void => {
    sh('ip', ['netns', 'del', nsA], { allowFail: true });
    sh('ip', ['netns', 'del', nsB], { allowFail: true });
  };
  try {
    sh('ip', ['netns', 'add', nsA]);
    sh('ip', ['netns', 'add', nsB]);
    sh('ip', ['link', 'add', devA, 'netns', nsA, 'type', 'veth', 'peer', 'name', devB, 'netns', nsB]);
    for (const [ns, dev, addr] of [
      [nsA, devA, addrA],
      [nsB, devB, addrB],
    ] as const) {
      sh('ip', ['-n', ns, 'addr', 'add', `${addr}/24`, 'dev', dev]);
      sh('ip', ['-n', ns, 'link', 'set', dev, 'up']);
      sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    }
  } catch (err) {
    destroy();
    throw err;
  }
  return {
    a: { ns: nsA, dev: devA, addr: addrA },
    b: { ns: nsB, dev: devB, addr: addrB },
    exec: (ns, cmd, args) => sh('ip', ['netns', 'exec', ns, cmd, ...args]),
    destroy,
  };
}

/** TcpRetransSegs of a network namespace (the kernel's own counter, from /proc/net/snmp). */
export function retransSegs(ns: string): number {
  const lines = sh('ip', ['netns', 'exec', ns, 'cat', '/proc/net/snmp']).split('\n').filter((l) => l.startsWith('Tcp:'));
  const names = lines[0]!.split(/\s+/);
  const values = lines[1]!.split(/\s+/);
  return Number(values[names.indexOf('RetransSegs')]);
}

/** TcpExt TCPRetransFail of a network namespace: retransmitted segments the device did not take. */
export function retransFailed(ns: string): number {
  const lines = sh('ip', ['netns', 'exec', ns, 'cat', '/proc/net/netstat']).split('\n').filter((l) => l.startsWith('TcpExt:'));
  const names = lines[0]!.split(/\s+/);
  const values = lines[1]!.split(/\s+/);
  return Number(values[names.indexOf('TCPRetransFail')]);
}
