// Fixtures for the flow tests: a namespace on a veth pair (IPv6 optional, static neighbours so that
// no ARP or ND packet muddies the interface counters), trafgen runs, interface counters.
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sh } from '../support/run.js';
import { createVethNamespace, freeSubnet, type VethPair } from '../support/netns.js';
import { completeJsonLines, startAgent, type RunningAgent } from '../support/agent.js';
import { compileC } from '../support/cbin.js';

export interface FlowLink extends VethPair {
  hostMac: string;
  peerMac: string;
}

/** A namespace on a veth pair with IPv6 off (or on, with `ipv6`) and static neighbours. */
export function createFlowLink(options: { ipv6?: boolean } = {}): FlowLink {
  const ipv6 = options.ipv6 === true;
  const link = createVethNamespace(freeSubnet('10.66', 10, 240), { net: '10.66', names: ['fsfn', 'fsfh', 'fsfp'], ipv6 });
  try {
    const { ns, host, peer } = link;
    const hostMac = readFileSync(`/sys/class/net/${host}/address`, 'utf8').trim();
    const peerMac = link.exec('cat', [`/sys/class/net/${peer}/address`]).trim();
    const neighbours: Array<[string, string]> = [[link.peerAddr, link.hostAddr]];
    if (ipv6) neighbours.push([link.peerAddr6, link.hostAddr6]);
    for (const [peerAddr, hostAddr] of neighbours) {
      sh('ip', ['neigh', 'replace', peerAddr, 'lladdr', peerMac, 'dev', host, 'nud', 'permanent']);
      sh('ip', ['-n', ns, 'neigh', 'replace', hostAddr, 'lladdr', hostMac, 'dev', peer, 'nud', 'permanent']);
    }
    return { ...link, hostMac, peerMac };
  } catch (err) {
    link.destroy();
    throw err;
  }
}

export interface IfCounters {
  rx_packets: number;
  rx_bytes: number;
  tx_packets: number;
  tx_bytes: number;
  tx_dropped: number;
  rx_dropped: number;
}

/** The kernel's counters of an interface in the root namespace, or of one in `ns`. */
export function ifCounters(dev: string, ns?: string): IfCounters {
  const read = (n: string): number =>
    Number((ns ? sh('ip', ['netns', 'exec', ns, 'cat', `/sys/class/net/${dev}/statistics/${n}`]) : readFileSync(`/sys/class/net/${dev}/statistics/${n}`, 'utf8')).trim());
  return {
    rx_packets: read('rx_packets'),
    rx_bytes: read('rx_bytes'),
    tx_packets: read('tx_packets'),
    tx_bytes: read('tx_bytes'),
    tx_dropped: read('tx_dropped'),
    rx_dropped: read('rx_dropped'),
  };
}

export function diff(a: IfCounters, b: IfCounters): IfCounters {
  return {
    rx_packets: b.rx_packets - a.rx_packets,
    rx_bytes: b.rx_bytes - a.rx_bytes,
    tx_packets: b.tx_packets - a.tx_packets,
    tx_bytes: b.tx_bytes - a.tx_bytes,
    tx_dropped: b.tx_dropped - a.tx_dropped,
    rx_dropped: b.rx_dropped - a.rx_dropped,
  };
}

export interface TrafgenResult {
  packets: number;
  bytes: number;
}

/**
 * Sends `count` UDP packets of `frameBytes` (without FCS) from the namespace side to the host side
 * (or, `from: 'host'`, from the host side into the namespace) with trafgen; `flows` distinct source
 * ports from 40000 (each flow gets count/flows packets), payload bytes `fill` (default 0).
 * trafgen's TX_RING (the default) makes skbs with the headers in page fragments; `sendto` (or a
 * gap) makes linear ones, as a socket does. Returns trafgen's own count of what it sent.
 */
export function trafgen(
  link: FlowLink,
  o: { count: number; flows: number; dport: number; frameBytes?: number; gapUs?: number; sendto?: boolean; from?: 'peer' | 'host'; fill?: number; peers?: PeerRange },
): TrafgenResult {
  const payload = (o.frameBytes ?? 60) - 14 - 20 - 8;
  // Flows differ by source port, or with `peers` by source address (each a peer of its own).
  const sport = o.flows === 1 || o.peers ? '40000' : `dinc(40000, ${40000 + o.flows - 1})`;
  const fromHost = o.from === 'host';
  const [da, sa, saddr, daddr] = fromHost ? [link.peerMac, link.hostMac, link.hostAddr, link.peerAddr] : [link.hostMac, link.peerMac, o.peers ? `${o.peers.prefix}.0.0, saddr[2:2]=dinc(0, ${o.flows - 1})` : link.peerAddr, link.hostAddr];
  const dir = mkdtempSync(join(tmpdir(), 'fs-trafgen-'));
  const conf = join(dir, 'udp.cfg');
  writeFileSync(conf, `{ eth(da=${da}, sa=${sa}), ipv4(saddr=${saddr}, daddr=${daddr}, ttl=64), udp(sport=${sport}, dport=${o.dport}), fill(${o.fill ?? 0}, ${payload}) }\n`);
  try {
    const args = ['--dev', fromHost ? link.host : link.peer, '--conf', conf, '-n', String(o.count), '--cpus', '1', '--no-sock-mem'];
    if (o.gapUs !== undefined || o.sendto) args.push('-t', `${o.gapUs ?? 0}us`);
    // trafgen bypasses the qdisc layer by default, and with it TC egress: from the host side the
    // packets are to pass the classifier on egress.
    if (fromHost) args.push('--qdisc-path');
    // nsenter execs trafgen in place, so that a timeout kills trafgen itself (`ip netns exec` forks).
    const out = fromHost ? sh('trafgen', args, { timeoutMs: 120_000 }) : sh('nsenter', [`--net=/run/netns/${link.ns}`, 'trafgen', ...args], { timeoutMs: 120_000 });
    const packets = Number(/(\d+) packets outgoing/.exec(out)?.[1]);
    const bytes = Number(/(\d+) bytes outgoing/.exec(out)?.[1]);
    if (!Number.isFinite(packets)) throw new Error(`trafgen printed no count: ${out}`);
    return { packets, bytes };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A /16 of peer addresses behind the namespace (routed through it, so that the host accepts them). */
export interface PeerRange {
  prefix: string;
  remove(): void;
}

export function routePeers(link: FlowLink): PeerRange {
  for (let attempt = 0; attempt < 20; attempt++) {
    const prefix = `10.${150 + Math.floor(Math.random() * 90)}`;
    try {
      sh('ip', ['route', 'add', `${prefix}.0.0/16`, 'via', link.peerAddr, 'dev', link.host]);
      return { prefix, remove: () => sh('ip', ['route', 'del', `${prefix}.0.0/16`], { allowFail: true }) };
    } catch {
      // taken: another one
    }
  }
  throw new Error('no free 10.x.0.0/16 to route the peers through');
}

/** Parses the flow records (`--flows ndjson`) in an agent's stdout. */
export function flowRecords(stdout: string): Array<Record<string, unknown> & { packets: number; bytes: number; sport: number; dport: number; tcp_flags: number; protocol: string; direction: string; saddr: string; daddr: string }> {
  return completeJsonLines<Record<string, unknown>>(stdout).filter((r) => r.type === 'flow') as ReturnType<typeof flowRecords>;
}


/** A 60-byte Ethernet frame (64 with FCS) carrying IPv4 UDP from src:sport to dst:dport, for test runs. */
export function udpFrame(src: [number, number, number, number], dst: [number, number, number, number], sport: number, dport: number): Buffer {
  const pkt = Buffer.alloc(60);
  pkt.writeUInt16BE(0x0800, 12);
  pkt[14] = 0x45;
  pkt.writeUInt16BE(46, 16);
  pkt[22] = 64;
  pkt[23] = 17;
  pkt.set(src, 26);
  pkt.set(dst, 30);
  pkt.writeUInt16BE(sport, 34);
  pkt.writeUInt16BE(dport, 36);
  pkt.writeUInt16BE(26, 38);
  return pkt;
}

// Makes socket(AF_NETLINK, .., NETLINK_ROUTE) fail in node only (not in the `ip` and `tc` it runs).
const NO_NETLINK_SHIM = String.raw`
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <linux/netlink.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int socket(int domain, int type, int protocol) {
  static int (*real)(int, int, int);
  if (!real) real = (int (*)(int, int, int))dlsym(RTLD_NEXT, "socket");
  char exe[256] = "";
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  const char *base = n > 0 ? strrchr(exe, '/') : NULL;
  if (domain == AF_NETLINK && protocol == NETLINK_ROUTE && base && strcmp(base, "/node") == 0) {
    errno = EPROTONOSUPPORT;
    return -1;
  }
  return real(domain, type, protocol);
}
`;

/** An agent whose netlink route sockets fail (NO_NETLINK_SHIM preloaded into it alone): it falls back to polling. */
export async function startAgentWithoutNetlink(args: string[]): Promise<RunningAgent> {
  const shim = compileC('no-netlink.so', NO_NETLINK_SHIM, ['-shared', '-fPIC', '-ldl']);
  const saved = process.env.LD_PRELOAD;
  process.env.LD_PRELOAD = shim;
  try {
    return await startAgent(args);
  } finally {
    if (saved === undefined) delete process.env.LD_PRELOAD;
    else process.env.LD_PRELOAD = saved;
  }
}
