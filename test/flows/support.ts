// Fixtures for the flow tests: a namespace on a veth pair (IPv6 optional, static neighbours so that
// no ARP or ND packet muddies the interface counters), trafgen runs, interface counters.
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sh } from '../support/run.js';
import { uniqueName } from '../support/netns.js';
import { completeJsonLines } from '../support/agent.js';

export interface FlowLink {
  ns: string;
  /** Root-namespace side (where the agent attaches). */
  host: string;
  /** Namespace side. */
  peer: string;
  hostAddr: string;
  peerAddr: string;
  hostAddr6: string;
  peerAddr6: string;
  hostMac: string;
  peerMac: string;
  exec(cmd: string, args: string[], timeoutMs?: number): string;
  destroy(): void;
}

export function createFlowLink(options: { ipv6?: boolean } = {}): FlowLink {
  const subnet = 10 + Math.floor(Math.random() * 240);
  const ns = uniqueName('fsfn');
  const host = uniqueName('fsfh');
  const peer = uniqueName('fsfp');
  const hostAddr = `10.66.${subnet}.1`;
  const peerAddr = `10.66.${subnet}.2`;
  const hostAddr6 = `fd66:${subnet.toString(16)}::1`;
  const peerAddr6 = `fd66:${subnet.toString(16)}::2`;
  const destroy = (): void => {
    sh('ip', ['link', 'del', host], { allowFail: true });
    sh('ip', ['netns', 'del', ns], { allowFail: true });
  };
  try {
    sh('ip', ['netns', 'add', ns]);
    sh('ip', ['link', 'add', host, 'type', 'veth', 'peer', 'name', peer]);
    sh('ip', ['link', 'set', peer, 'netns', ns]);
    const v6 = options.ipv6 ? '0' : '1';
    sh('sysctl', ['-qw', `net.ipv6.conf.${host}.disable_ipv6=${v6}`]);
    sh('ip', ['netns', 'exec', ns, 'sysctl', '-qw', `net.ipv6.conf.${peer}.disable_ipv6=${v6}`]);
    sh('ip', ['addr', 'add', `${hostAddr}/24`, 'dev', host]);
    sh('ip', ['-n', ns, 'addr', 'add', `${peerAddr}/24`, 'dev', peer]);
    if (options.ipv6) {
      sh('ip', ['addr', 'add', `${hostAddr6}/64`, 'dev', host, 'nodad']);
      sh('ip', ['-n', ns, 'addr', 'add', `${peerAddr6}/64`, 'dev', peer, 'nodad']);
    }
    sh('ip', ['link', 'set', host, 'up']);
    sh('ip', ['-n', ns, 'link', 'set', peer, 'up']);
    sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  } catch (err) {
    destroy();
    throw err;
  }
  const hostMac = readFileSync(`/sys/class/net/${host}/address`, 'utf8').trim();
  const peerMac = sh('ip', ['netns', 'exec', ns, 'cat', `/sys/class/net/${peer}/address`]).trim();
  sh('ip', ['neigh', 'replace', peerAddr, 'lladdr', peerMac, 'dev', host, 'nud', 'permanent']);
  sh('ip', ['-n', ns, 'neigh', 'replace', hostAddr, 'lladdr', hostMac, 'dev', peer, 'nud', 'permanent']);
  if (options.ipv6) {
    sh('ip', ['neigh', 'replace', peerAddr6, 'lladdr', peerMac, 'dev', host, 'nud', 'permanent']);
    sh('ip', ['-n', ns, 'neigh', 'replace', hostAddr6, 'lladdr', hostMac, 'dev', peer, 'nud', 'permanent']);
  }
  return {
    ns,
    host,
    peer,
    hostAddr,
    peerAddr,
    hostAddr6,
    peerAddr6,
    hostMac,
    peerMac,
    exec: (cmd, args, timeoutMs) => sh('ip', ['netns', 'exec', ns, cmd, ...args], { timeoutMs }),
    destroy,
  };
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
 * with trafgen; `flows` distinct source ports from 40000 (each flow gets count/flows packets).
 * Returns trafgen's own count of what it sent.
 */
export function trafgen(link: FlowLink, o: { count: number; flows: number; dport: number; frameBytes?: number; gapUs?: number }): TrafgenResult {
  const payload = (o.frameBytes ?? 60) - 14 - 20 - 8;
  const sport = o.flows === 1 ? '40000' : `dinc(40000, ${40000 + o.flows - 1})`;
  const dir = mkdtempSync(join(tmpdir(), 'fs-trafgen-'));
  const conf = join(dir, 'udp.cfg');
  writeFileSync(
    conf,
    `{ eth(da=${link.hostMac}, sa=${link.peerMac}), ipv4(saddr=${link.peerAddr}, daddr=${link.hostAddr}, ttl=64), udp(sport=${sport}, dport=${o.dport}), fill(0x00, ${payload}) }\n`,
  );
  try {
    const args = ['--dev', link.peer, '--conf', conf, '-n', String(o.count), '--cpus', '1', '--no-sock-mem'];
    if (o.gapUs) args.push('-t', `${o.gapUs}us`);
    // nsenter execs trafgen in place, so that a timeout kills trafgen itself (`ip netns exec` forks).
    const out = sh('nsenter', [`--net=/run/netns/${link.ns}`, 'trafgen', ...args], { timeoutMs: 120_000 });
    const packets = Number(/(\d+) packets outgoing/.exec(out)?.[1]);
    const bytes = Number(/(\d+) bytes outgoing/.exec(out)?.[1]);
    if (!Number.isFinite(packets)) throw new Error(`trafgen printed no count: ${out}`);
    return { packets, bytes };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Parses the flow records (`--flows ndjson`) in an agent's stdout. */
export function flowRecords(stdout: string): Array<Record<string, unknown> & { packets: number; bytes: number; sport: number; dport: number; tcp_flags: number; protocol: string; direction: string; saddr: string; daddr: string }> {
  return completeJsonLines<Record<string, unknown>>(stdout).filter((r) => r.type === 'flow') as ReturnType<typeof flowRecords>;
}

