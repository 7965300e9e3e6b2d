// Seed 003's table on this machine: packets per second through a veth pair (trafgen, 64-byte UDP
// frames: 60 bytes + FCS) with no program, with the agent, with tcpdump, and with benchmark-only
// variants of the classifier on other data structures, in 1 flow and in 65,536 flows, in the same
// run. BPF run time per packet from the kernel's BPF statistics.
//
//   node dist/bench/flows-pps.js [seconds per run = 2] [rounds = 2]
//
// trafgen runs in a namespace on one CPU and sends to the root-namespace end of a veth pair, where
// the programs sit on TC ingress. veth delivers in the sender's softirq, so the sender's CPU carries
// the whole receive path: what a program costs shows as fewer packets through. Packets go to a
// closed UDP port (each is freed as NO_SOCKET, the same in every variant).
import { spawn, type ChildProcess, execFileSync } from 'node:child_process';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BpfObject, enableBpfStats, type Link } from '../src/bpf/index.js';
import { repoPath } from '../src/util/paths.js';
import { flowscopeBin } from '../test/support/paths.js';
import { freePort } from '../test/support/agent.js';
import { createFlowLink, ifCounters, type FlowLink } from '../test/flows/support.js';
import { fmt, median, table } from './support.js';

const seconds = Number(process.argv[2] ?? 2);
const rounds = Number(process.argv[3] ?? 2);
const VARIANTS_OBJ = repoPath('bpf/.output/bench/flow_variants.bpf.o');
const FLOWS_OBJ = repoPath('bpf/.output/flows.bpf.o');

interface Variant {
  name: string;
  /** Object and program for a cache-hot BPF_PROG_TEST_RUN of one 60-byte UDP frame. */
  testRun?: { obj: string; prog: string; globals?: Record<string, number> };
  start(link: FlowLink): Promise<{ stop(): Promise<void>; runStats(): { ns: number; runs: number } | undefined }>;
}

function inProcess(name: string, obj: string, prog: string, maxEntries: Record<string, number> = {}, globals: Record<string, number> = {}): Variant {
  return {
    name,
    testRun: { obj, prog, globals },
    async start(link) {
      const o = BpfObject.load(obj, { programs: [prog], maxEntries, globals });
      let l: Link;
      try {
        l = o.program(prog).attachTc({ interface: link.host, direction: 'ingress' });
      } catch (err) {
        o.close();
        throw err;
      }
      // The ring buffer variant needs a reader, as an agent would have.
      const rb = prog === 'v_ringbuf' ? o.ringBuffer('rb', { handler: () => undefined, maxPendingBatches: 64 }) : undefined;
      return {
        async stop() {
          rb?.close();
          l.destroy();
          o.close();
        },
        runStats() {
          const s = o.program(prog).stats();
          return { ns: s.runTimeNs, runs: s.runCount };
        },
      };
    },
  };
}

function agentProcess(name: string, extra: string[]): Variant {
  return {
    name,
    async start(link) {
      const proc: ChildProcess = spawn(
        flowscopeBin,
        ['agent', '--listen', `127.0.0.1:${await freePort()}`, '--flow-interfaces', `^${link.host}$`, '--max-flows', '131072', '--log-level', 'info', ...extra],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      let err = '';
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`agent did not attach: ${err}`)), 20_000);
        proc.stderr!.on('data', (d: Buffer) => {
          err += d.toString();
          if (err.includes('serving metrics')) {
            clearTimeout(t);
            resolve();
          }
        });
        proc.once('exit', (c) => reject(new Error(`agent exited ${c}: ${err}`)));
      });
      return {
        async stop() {
          proc.kill('SIGTERM');
          await new Promise((r) => proc.once('close', r));
        },
        runStats() {
          // The agent's programs, from bpftool (owned by the agent's pid): the TC classifier and the drop hook.
          const progs = JSON.parse(execFileSync('bpftool', ['prog', 'show', '-j'], { encoding: 'utf8' })) as Array<{ id: number; name: string; run_time_ns?: number; run_cnt?: number }>;
          // The agent's classifier: the newest flow_in (it was loaded a moment ago; bpftool here cannot tell owners).
          const mine = progs.filter((p) => p.name === 'flow_in').sort((a, b) => b.id - a.id)[0];
          const drop = progs.filter((p) => p.name.startsWith('drop_') && p.id > (mine?.id ?? 0)).sort((a, b) => b.id - a.id)[0];
          const ns = (mine?.run_time_ns ?? 0) + (drop?.run_time_ns ?? 0);
          const runs = mine?.run_cnt ?? 0;
          return { ns, runs };
        },
      };
    },
  };
}

const VARIANTS: Variant[] = [
  { name: 'no program', start: async () => ({ stop: async () => undefined, runStats: () => undefined }) },
  agentProcess('flowscope agent (flows + drops)', []),
  agentProcess('flowscope agent, --no-drops', ['--no-drops']),
  agentProcess('flowscope agent, --no-drops, flow records on', ['--no-drops', '--flows', 'ndjson']),
  inProcess("agent's classifier alone, per flow (records on)", FLOWS_OBJ, 'flow_in', { flows: 131072 }),
  inProcess("agent's classifier alone, per edge (default)", FLOWS_OBJ, 'flow_in', { flows: 131072, edges: 131072 }, { track_flows: 0 }),
  {
    name: 'tcpdump -w /dev/null',
    async start(link) {
      const p = spawn('tcpdump', ['-i', link.host, '-w', '/dev/null'], { stdio: ['ignore', 'ignore', 'pipe'] });
      await new Promise<void>((resolve) => p.stderr!.once('data', () => resolve()));
      return {
        async stop() {
          p.kill('SIGINT');
          await new Promise((r) => p.once('close', r));
        },
        runStats: () => undefined,
      };
    },
  },
  inProcess('ring buffer per packet', VARIANTS_OBJ, 'v_ringbuf'),
  inProcess('shared hash (atomic adds)', VARIANTS_OBJ, 'v_hash'),
  inProcess('shared hash (spin lock)', VARIANTS_OBJ, 'v_hash_lock'),
  inProcess('per-CPU hash', VARIANTS_OBJ, 'v_percpu_hash'),
  inProcess('per-CPU array (round-robin records)', VARIANTS_OBJ, 'v_percpu_array'),
  inProcess('floor: parse only, store nothing', VARIANTS_OBJ, 'v_parse'),
  inProcess('floor: empty program', VARIANTS_OBJ, 'v_empty'),
];

/** The range of the per-round ratios, in percent: how much one cell moved between rounds. */
function spread(ratios: number[]): string {
  return `${Math.round(100 * Math.min(...ratios))}-${Math.round(100 * Math.max(...ratios))}`;
}

let runningTrafgen: ChildProcess | undefined;

async function measure(link: FlowLink, conf: string, secs: number): Promise<number> {
  // nsenter execs trafgen in place (`ip netns exec` forks: killing it would orphan trafgen).
  const tg = spawn('nsenter', [`--net=/run/netns/${link.ns}`, 'trafgen', '--dev', link.peer, '--conf', conf, '--cpus', '1', '--no-sock-mem', '-n', '0'], {
    stdio: 'ignore',
    detached: true, // its own process group: trafgen forks a worker per CPU, and both must go
  });
  runningTrafgen = tg;
  await new Promise((r) => setTimeout(r, 300));
  const a = ifCounters(link.host).rx_packets;
  const t0 = process.hrtime.bigint();
  await new Promise((r) => setTimeout(r, secs * 1000));
  const b = ifCounters(link.host).rx_packets;
  const t1 = process.hrtime.bigint();
  process.kill(-tg.pid!, 'SIGKILL');
  await new Promise((r) => tg.once('close', r));
  runningTrafgen = undefined;
  return (b - a) / (Number(t1 - t0) / 1e9);
}

/** ns per run of a program on one 60-byte UDP frame, in the kernel's test-run loop (cache-hot, no traffic noise). */
function testRunNs(obj: string, prog: string, globals: Record<string, number> = {}): number {
  const pkt = Buffer.alloc(60);
  pkt.writeUInt16BE(0x0800, 12);
  pkt[14] = 0x45;
  pkt.writeUInt16BE(46, 16);
  pkt[22] = 64;
  pkt[23] = 17;
  pkt.set([10, 0, 0, 2], 26);
  pkt.set([10, 0, 0, 1], 30);
  pkt.writeUInt16BE(40000, 34);
  pkt.writeUInt16BE(9, 36);
  pkt.writeUInt16BE(26, 38);
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

async function main(): Promise<void> {
  const link = createFlowLink();
  const dir = mkdtempSync(join(tmpdir(), 'fs-bench-'));
  const confs: Record<string, string> = {};
  for (const [flows, sport] of [
    ['1', '40000'],
    ['65536', 'dinc(0, 65535)'],
  ] as const) {
    confs[flows] = join(dir, `${flows}.cfg`);
    writeFileSync(confs[flows]!, `{ eth(da=${link.hostMac}, sa=${link.peerMac}), ipv4(saddr=${link.peerAddr}, daddr=${link.hostAddr}, ttl=64), udp(sport=${sport}, dport=9), fill(0x00, 18) }\n`);
  }
  const results = new Map<string, { ratio: number[]; pps: number[]; nsPerPkt: number[] }>();
  const none = VARIANTS[0]!;
  const stopping = false;
  // Interrupted: stop the generator and remove the namespace and veth pair before exiting.
  const cleanup = (): void => {
    if (runningTrafgen?.pid) process.kill(-runningTrafgen.pid, 'SIGKILL');
    link.destroy();
    rmSync(dir, { recursive: true, force: true });
    process.exit(130);
  };
  process.once('SIGINT', cleanup);
  process.once('SIGTERM', cleanup);
  try {
    for (let r = 0; r < rounds && !stopping; r++) {
      for (const v of VARIANTS.slice(1)) {
        for (const flows of ['1', '65536']) {
          if (stopping) break;
          // A baseline right before each variant: the machine is shared, its spare capacity drifts.
          const base = await measure(link, confs[flows]!, seconds);
          const run = await v.start(link);
          let pps: number;
          let s0: { ns: number; runs: number } | undefined;
          let s1: { ns: number; runs: number } | undefined;
          try {
            pps = await measure(link, confs[flows]!, seconds);
            // Run time per packet in a short second run with kernel BPF statistics on (they cost time themselves).
            const stats = enableBpfStats();
            try {
              s0 = run.runStats();
              await measure(link, confs[flows]!, 0.5);
              s1 = run.runStats();
            } finally {
              stats.close();
            }
          } finally {
            await run.stop();
          }
          for (const [name, value] of [
            [none.name, base],
            [v.name, pps],
          ] as const) {
            const key = `${name}\u0000${flows}`;
            const e = results.get(key) ?? { ratio: [], pps: [], nsPerPkt: [] };
            e.pps.push(value);
            if (name === v.name) {
              e.ratio.push(pps / base);
              if (s0 && s1 && s1.runs > s0.runs) e.nsPerPkt.push((s1.ns - s0.ns) / (s1.runs - s0.runs));
            }
            results.set(key, e);
          }
          console.error(`round ${r + 1} ${v.name} ${flows} flow(s): ${fmt(pps)} pps, baseline ${fmt(base)} pps`);
        }
      }
    }
  } finally {
    link.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
  const rows: Array<Record<string, string | number>> = [];
  for (const v of VARIANTS) {
    const row: Record<string, string | number> = { variant: v.name };
    row['test-run ns'] = v.testRun ? fmt(testRunNs(v.testRun.obj, v.testRun.prog, v.testRun.globals)) : '-';
    for (const flows of ['1', '65536']) {
      const e = results.get(`${v.name}\u0000${flows}`);
      const n = flows === '1' ? '1 flow' : '65,536 flows';
      row[`pps, ${n}`] = e ? fmt(median(e.pps)) : '-';
      row[`vs none, ${n}`] = e?.ratio.length ? `${fmt(100 * median(e.ratio), 1)}% (${spread(e.ratio)})` : v === none ? '100%' : '-';
      row[`BPF ns/pkt, ${n}`] = e?.nsPerPkt.length ? fmt(median(e.nsPerPkt)) : '-';
    }
    rows.push(row);
  }
  console.log(table(rows));
}

await main();
