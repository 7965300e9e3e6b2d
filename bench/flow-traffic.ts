// Traffic for the flow benchmarks: a veth pair into a namespace, trafgen sending 64-byte UDP frames
// (60 bytes + FCS) in 1 flow or from 65,536 distinct peers (the last two bytes of the source address
// counting through a /16 routed through the namespace: 65,536 edges, not one edge of many source
// ports), either delivered to a receiving application (a C recvmmsg loop on the other CPU) or to a
// closed port (every packet a drop), packet rates over short phases, and the cache-hot test run of
// a classifier.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync, mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BpfObject } from '../src/bpf/index.js';
import { createFlowLink, routePeers, udpFrame, type FlowLink } from '../test/flows/support.js';
import { compileC } from '../test/support/cbin.js';
import { sh } from '../test/support/run.js';
import { repoPath } from '../src/lib/paths.js';
import { median } from './support.js';

export const FLOW_COUNTS = ['1', '65536'] as const;
export type FlowCount = (typeof FLOW_COUNTS)[number];

/**
 * trafgen sending `conf` from the namespace end without end (`extra`: e.g. a rate), in its own
 * process group: nsenter execs trafgen in place (`ip netns exec` forks, and killing it would orphan
 * trafgen), and trafgen forks a worker per CPU that must go with it.
 */
export function spawnTrafgen(link: FlowLink, conf: string, extra: string[] = trafgenModeArgs()): ChildProcess {
  return spawn('nsenter', [`--net=/run/netns/${link.ns}`, 'trafgen', '--dev', link.peer, '--conf', conf, '--cpus', '1', '--no-sock-mem', ...extra, '-n', '0'], {
    stdio: 'ignore',
    detached: true,
  });
}

/**
 * How trafgen hands packets to the kernel. 'ring' (packet(7)'s TX_RING, the default): no system call
 * per packet, the cheapest sender, but the kernel builds each skb with only the MAC header in its
 * linear area and the rest in page fragments, which no socket or NIC driver with GRO produces.
 * 'sendto' (trafgen --gap 0): one sendto(2) per packet; small packets come out linear, as they do
 * from a socket or a NIC. FLOWS_TRAFGEN=ring|sendto.
 */
export type TrafgenMode = 'ring' | 'sendto';
export function trafgenMode(): TrafgenMode {
  const m = process.env.FLOWS_TRAFGEN ?? 'ring';
  if (m !== 'ring' && m !== 'sendto') throw new Error(`FLOWS_TRAFGEN must be ring or sendto, not '${m}'`);
  return m;
}
export function trafgenModeArgs(mode: TrafgenMode = trafgenMode()): string[] {
  return mode === 'sendto' ? ['--gap', '0'] : [];
}

/** Kills a trafgen from spawnTrafgen and its worker, and waits for it. */
export async function stopTrafgen(tg: ChildProcess): Promise<void> {
  if (tg.exitCode !== null || tg.signalCode !== null) return;
  const closed = new Promise((r) => tg.once('close', r));
  process.kill(-tg.pid!, 'SIGKILL');
  await closed;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Where the packets go: a UDP socket an application reads, or a closed port (each packet dropped as NO_SOCKET). */
export type Delivery = 'delivered' | 'dropped';

const SINK_PORT = 9;
const CLOSED_PORT = 10;

export interface TrafficBench {
  link: FlowLink;
  delivery: Delivery;
  mode: TrafgenMode;
  /** trafgen configurations: one flow, or 65,536 distinct peers. */
  confs: Record<FlowCount, string>;
  /** Runs `fn` while trafgen sends without a break in `flows` flows. */
  withTrafgen<T>(flows: FlowCount, fn: () => Promise<T>): Promise<T>;
  /** Packets per second received on the host end over `ms`. */
  phase(ms: number): Promise<number>;
  destroy(): void;
}

/**
 * A namespace on a veth pair, trafgen configurations and, for 'delivered', the receiving application
 * (on CPU 1; trafgen sends from CPU 0); removed on destroy() and on SIGINT/SIGTERM.
 */
export async function createTrafficBench(delivery: Delivery = 'dropped', mode: TrafgenMode = trafgenMode()): Promise<TrafficBench> {
  const link = createFlowLink();
  const peers = routePeers(link);
  const dir = mkdtempSync(join(tmpdir(), 'fs-bench-'));
  const confs = {} as Record<FlowCount, string>;
  const dport = delivery === 'delivered' ? SINK_PORT : CLOSED_PORT;
  const frame = (ip: string): string => `{ eth(da=${link.hostMac}, sa=${link.peerMac}), ${ip}, udp(sport=40000, dport=${dport}), fill(0x00, 18) }\n`;
  confs['1'] = join(dir, '1.cfg');
  writeFileSync(confs['1'], frame(`ipv4(saddr=${link.peerAddr}, daddr=${link.hostAddr}, ttl=64)`));
  confs['65536'] = join(dir, '65536.cfg');
  writeFileSync(confs['65536'], frame(`ipv4(saddr=${peers.prefix}.0.0, saddr[2:2]=dinc(0, 65535), daddr=${link.hostAddr}, ttl=64)`));
  let running: ChildProcess | undefined;
  let sink: ChildProcess | undefined;
  let destroyed = false;
  const destroy = (): void => {
    if (destroyed) return;
    destroyed = true;
    if (running?.pid) process.kill(-running.pid, 'SIGKILL');
    sink?.kill('SIGKILL');
    peers.remove();
    link.destroy();
    rmSync(dir, { recursive: true, force: true });
  };
  const interrupted = (): void => {
    destroy();
    process.exit(130);
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  if (delivery === 'delivered') {
    try {
      const bin = compileC('fs-udp-sink', readFileSync(repoPath('bench/fixtures/udp-sink.c'), 'utf8'));
      sink = spawn('taskset', ['-c', '1', bin, link.hostAddr, String(SINK_PORT)], { stdio: ['ignore', 'ignore', 'pipe'] });
      await new Promise<void>((resolve, reject) => {
        sink!.stderr!.once('data', () => resolve());
        sink!.once('exit', (c) => reject(new Error(`udp-sink exited ${c}`)));
      });
    } catch (err) {
      destroy();
      throw err;
    }
  }
  const rx = (): number => Number(readFileSync(`/sys/class/net/${link.host}/statistics/rx_packets`, 'utf8'));
  return {
    link,
    delivery,
    mode,
    confs,
    async withTrafgen(flows, fn) {
      const tg = spawnTrafgen(link, confs[flows], trafgenModeArgs(mode));
      running = tg;
      try {
        await sleep(300);
        return await fn();
      } finally {
        await stopTrafgen(tg);
        running = undefined;
      }
    },
    async phase(ms) {
      const a = rx();
      const t0 = process.hrtime.bigint();
      await sleep(ms);
      const b = rx();
      return (b - a) / (Number(process.hrtime.bigint() - t0) / 1e9);
    },
    destroy,
  };
}

/** The q-quantile (0..1) of xs, nearest rank. */
export function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.round(q * (s.length - 1))))]!;
}

/** ns per run of a program on one 60-byte UDP frame, in the kernel's test-run loop (cache-hot, no traffic noise). */
export function testRunNs(obj: string, prog: string, globals: Record<string, number> = {}): number {
  const pkt = udpFrame([10, 0, 0, 2], [10, 0, 0, 1], 40000, 9);
  const o = BpfObject.load(obj, { programs: [prog], globals });
  try {
    const p = o.program(prog);
    const runs: number[] = [];
    for (let i = 0; i < 7; i++) runs.push(p.testRun({ data: pkt, repeat: 200_000 }).durationNs);
    return median(runs);
  } finally {
    o.close();
  }
}
