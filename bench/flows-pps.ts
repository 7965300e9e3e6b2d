// Seed 003's table on this machine: packets per second through a veth pair (trafgen, 64-byte UDP
// frames: 60 bytes + FCS) with no program, with the agent, with tcpdump, and with benchmark-only
// variants of the classifier on other data structures, in 1 flow and from 65,536 distinct peers
// (65,536 edges' worth of work), in the same run. BPF run time per packet from the kernel's BPF
// statistics.
//
//   node dist/bench/flows-pps.js [seconds per cell = 8] [phase ms = 50]
//   FLOWS_PPS_DELIVERY=delivered|dropped (default both), FLOWS_PPS_ONLY=<regexp of variant names>,
//   FLOWS_TRAFGEN=ring|sendto (default both): how trafgen sends, see TrafgenMode in bench/flow-traffic.ts
//   FLOWS_PPS_REFERENCE=<another checkout, built>: the default agent of that build too, in the row
//   after this build's (e.g. `git worktree add --detach /tmp/ref <previous commit>` and `make all` there)
//   FLOWS_PPS_EXTRA='<agent flags>': an agent of this build with those flags too
//
// trafgen runs in a namespace on one CPU and sends to the root-namespace end of a veth pair, where
// the programs sit on TC ingress. veth delivers in the sender's softirq, so the sender's CPU carries
// the whole receive path: what a program costs shows as fewer packets through. Two runs: packets
// delivered to a UDP socket that an application on the other CPU reads (the usual case), and packets
// to a closed port (each freed as NO_SOCKET: the cheapest receive path, and the worst case for the
// agent's drop hook, which then fires for every packet).
//
// This machine is shared: its packet rate with no program at all drifts by tens of percent within
// seconds. So within one cell trafgen runs without a break while the variant is switched on and off
// every `phase ms` (a map write; tcpdump is started and stopped), and each "on" phase is compared
// with the mean of the "off" phases on either side of it. The agent rows are switched through a map
// the agent's own classifier and drop hook read (FLOWSCOPE_BENCH_GATE): both are off in the "off"
// phases, so the drop hook's cost is in the closed-port rows. The in-process variants have a gate
// program in front of them. No cell is left out.
import { spawn, type ChildProcess } from 'node:child_process';
import { BpfObject, type Link } from '../src/bpf/index.js';
import { repoPath } from '../src/lib/paths.js';
import { type FlowLink } from '../test/flows/support.js';
import { agentProcess, nsPerPacket, referenceAgent, VARIANTS_OBJ, type Variant } from './flows-agent.js';
import { createTrafficBench, FLOW_COUNTS, quantile, testRunNs, type Delivery, type FlowCount, type TrafficBench, type TrafgenMode } from './flow-traffic.js';
import { fmt, median, table } from './support.js';

const cellSeconds = Number(process.argv[2] ?? 8);
const phaseMs = Number(process.argv[3] ?? 50);
const FLOWS_OBJ = repoPath('bpf/.output/flows.bpf.o');

/**
 * A program of an object loaded in this process, attached once behind the gate, which switches it:
 * attaching and detaching for every phase would measure the attach itself (in the delivered case an
 * empty program switched that way "gained" 6-8%, see the gate alone row), a gate switches by a map write.
 */
function inProcess(name: string, obj: string, prog: string, maxEntries: Record<string, number> = {}, globals: Record<string, number> = {}): Variant {
  return {
    name,
    switchedBy: 'gate',
    testRun: { obj, prog, globals },
    async prepare(link) {
      const o = BpfObject.load(obj, { programs: [prog], maxEntries, globals });
      // The ring buffer variant needs a reader, as an agent would have.
      const rb = prog === 'v_ringbuf' ? o.ringBuffer('rb', { handler: () => undefined, maxPendingBatches: 64 }) : undefined;
      let l: Link | undefined;
      let gate: ReturnType<typeof loadGate> | undefined;
      const close = (): void => {
        gate?.close();
        l?.destroy();
        rb?.close();
        o.close();
      };
      try {
        gate = loadGate(link);
        l = o.program(prog).attachTc({ interface: link.host, direction: 'ingress' });
      } catch (err) {
        close();
        throw err;
      }
      return {
        on: async () => gate!.open(),
        off: async () => gate!.shut(),
        close: async () => close(),
        runStats() {
          const s = o.program(prog).stats();
          return { ns: s.runTimeNs, runs: s.runCount };
        },
      };
    },
  };
}

/**
 * A gate in front of every program on the interface's ingress: while closed it ends the chain
 * (TCX_PASS), so the programs behind it do not run. Its own cost is in both phases; the
 * "gate alone" row measures it.
 */
function loadGate(link: FlowLink): { open(): void; shut(): void; attach(): void; detach(): void; close(): void } {
  const o = BpfObject.load(VARIANTS_OBJ, { programs: ['v_gate'] });
  const gate = o.map('gate');
  const key = Buffer.alloc(4);
  const set = (v: number): void => gate.set(key, Buffer.from(new Uint32Array([v]).buffer));
  let l: Link | undefined;
  const g = {
    open: () => set(0),
    shut: () => set(1),
    attach() {
      l ??= o.program('v_gate').attachTc({ interface: link.host, direction: 'ingress', first: true });
    },
    detach() {
      l?.destroy();
      l = undefined;
    },
    close() {
      g.detach();
      o.close();
    },
  };
  try {
    set(1);
    g.attach();
    return g;
  } catch (err) {
    o.close();
    throw err;
  }
}

const gateAlone: Variant = {
  name: 'gate alone (switches the in-process rows)',
  switchedBy: 'attach / detach',
  testRun: { obj: VARIANTS_OBJ, prog: 'v_gate' },
  async prepare(link) {
    const g = loadGate(link);
    g.detach();
    return {
      on: async () => g.attach(),
      off: async () => g.detach(),
      close: async () => g.close(),
      runStats: () => undefined,
    };
  },
};

const tcpdump: Variant = {
  name: 'tcpdump -w /dev/null',
  switchedBy: 'process start / stop',
  async prepare(link) {
    let p: ChildProcess | undefined;
    const stop = async (): Promise<void> => {
      if (!p) return;
      const q = p;
      p = undefined;
      q.kill('SIGINT');
      await new Promise((r) => q.once('close', r));
    };
    return {
      async on() {
        p = spawn('tcpdump', ['-i', link.host, '-w', '/dev/null'], { stdio: ['ignore', 'ignore', 'pipe'] });
        // "listening on ..." comes once the capture socket is open.
        await new Promise<void>((resolve) => p!.stderr!.once('data', () => resolve()));
      },
      off: stop,
      close: stop,
      runStats: () => undefined,
    };
  },
};

const VARIANTS: Variant[] = [
  agentProcess('flowscope agent (flows + drops)', []),
  ...(process.env.FLOWS_PPS_REFERENCE ? [referenceAgent(process.env.FLOWS_PPS_REFERENCE, 'flowscope agent (flows + drops)')] : []),
  agentProcess('flowscope agent, --no-drops', ['--no-drops']),
  ...(process.env.FLOWS_PPS_EXTRA ? [agentProcess(`flowscope agent ${process.env.FLOWS_PPS_EXTRA}`, process.env.FLOWS_PPS_EXTRA.split(' '))] : []),
  // Room for 65,536 flows plus the ICMP errors' (the default, 65,536, would spill).
  agentProcess('flowscope agent, --no-drops, flow records on, --max-flows 131072', ['--no-drops', '--flows', 'ndjson', '--max-flows', '131072']),
  inProcess("agent's classifier alone, per flow (records on)", FLOWS_OBJ, 'flow_in', { flows: 131072 }),
  inProcess("agent's classifier alone, per edge (default: edge cache)", FLOWS_OBJ, 'flow_in', { flows: 131072, edges: 131072 }, { track_flows: 0 }),
  inProcess("agent's classifier alone, per edge, no edge cache", FLOWS_OBJ, 'flow_in', { flows: 131072, edges: 131072 }, { track_flows: 0, edge_cache: 0 }),
  tcpdump,
  inProcess('ring buffer per packet', VARIANTS_OBJ, 'v_ringbuf'),
  inProcess('shared hash (atomic adds)', VARIANTS_OBJ, 'v_hash'),
  inProcess('shared hash (spin lock)', VARIANTS_OBJ, 'v_hash_lock'),
  inProcess('per-CPU hash', VARIANTS_OBJ, 'v_percpu_hash'),
  inProcess('per-CPU array (round-robin records)', VARIANTS_OBJ, 'v_percpu_array'),
  inProcess('floor: parse only, store nothing', VARIANTS_OBJ, 'v_parse'),
  inProcess('floor: pull the headers only', VARIANTS_OBJ, 'v_pull'),
  inProcess('floor: empty program', VARIANTS_OBJ, 'v_empty'),
  gateAlone,
];

interface Cell {
  off: number[];
  on: number[];
  /** Each "on" phase over the mean of the "off" phases on either side of it. */
  ratios: number[];
  /** Switches without a ratio: the sender stalled and the "off" phases on either side carried nothing. */
  stalled: number;
  nsPerPkt?: number;
}

/** One cell: the variant switched on and off every `phaseMs` while trafgen sends without a break. */
async function measureCell(bench: TrafficBench, flows: FlowCount, v: Variant): Promise<Cell> {
  const sw = await v.prepare(bench.link);
  try {
    const cell: Cell = { off: [], on: [], ratios: [], stalled: 0 };
    await bench.withTrafgen(flows, async () => {
      const pairs = Math.max(3, Math.round((cellSeconds * 1000) / (2 * phaseMs)));
      cell.off.push(await bench.phase(phaseMs));
      for (let i = 0; i < pairs; i++) {
        await sw.on();
        cell.on.push(await bench.phase(phaseMs));
        await sw.off();
        cell.off.push(await bench.phase(phaseMs));
        // The rule, set before the runs: a switch whose neighbouring "off" phases carried no packet
        // (the sender stalled: a shared machine) has no ratio, and is counted as such.
        const offMean = (cell.off[i]! + cell.off[i + 1]!) / 2;
        if (offMean > 0) cell.ratios.push(cell.on[i]! / offMean);
        else cell.stalled++;
      }
      cell.nsPerPkt = await nsPerPacket(sw);
    });
    return cell;
  } finally {
    await sw.close();
  }
}

async function main(): Promise<void> {
  const only = process.env.FLOWS_PPS_ONLY ? new RegExp(process.env.FLOWS_PPS_ONLY) : undefined;
  const variants = only ? VARIANTS.filter((v) => only.test(v.name)) : VARIANTS;
  const deliveries = (process.env.FLOWS_PPS_DELIVERY ?? 'delivered,dropped').split(',') as Delivery[];
  const modes = (process.env.FLOWS_TRAFGEN ?? 'ring,sendto').split(',') as TrafgenMode[];
  const tables: string[] = [];
  for (const { mode, delivery } of modes.flatMap((mode) => deliveries.map((delivery) => ({ mode, delivery })))) {
    const bench = await createTrafficBench(delivery, mode);
    const rows: Array<Record<string, string | number>> = [];
    try {
      for (const v of variants) {
        const row: Record<string, string | number> = { variant: v.name, 'switched by': v.switchedBy };
        row['test-run ns'] = v.testRun ? fmt(testRunNs(v.testRun.obj, v.testRun.prog, v.testRun.globals)) : '-';
        for (const flows of FLOW_COUNTS) {
          const n = flows === '1' ? '1 flow' : '65,536 peers';
          const cell = await measureCell(bench, flows, v);
          const r = cell.ratios;
          row[`pps off / on, ${n}`] = `${fmt(median(cell.off))} / ${fmt(median(cell.on))}`;
          row[`kept, ${n}`] = `${fmt(100 * median(r), 1)}% (${fmt(100 * quantile(r, 0.25), 1)}-${fmt(100 * quantile(r, 0.75), 1)})${cell.stalled ? `, ${cell.stalled} stalled` : ''}`;
          row[`BPF ns/pkt, ${n}`] = cell.nsPerPkt !== undefined ? fmt(cell.nsPerPkt) : '-';
          console.error(`${mode}, ${delivery}: ${v.name}, ${n}: kept ${row[`kept, ${n}`]} of ${fmt(median(cell.off))} pps over ${r.length} switches, BPF ${row[`BPF ns/pkt, ${n}`]} ns/pkt`);
        }
        rows.push(row);
      }
    } finally {
      bench.destroy();
    }
    const sender = mode === 'ring' ? 'trafgen TX_RING (headers in page fragments)' : 'trafgen sendto (linear packets, as from a socket or a NIC)';
    tables.push(`${sender}, packets ${delivery === 'delivered' ? 'delivered to a receiving application' : 'sent to a closed port (each one a drop)'}:\n\n${table(rows)}`);
  }
  console.log(`${cellSeconds} s per cell, switched every ${phaseMs} ms; "kept": median of the on/off ratios (in brackets the quartiles)\n`);
  console.log(tables.join('\n\n'));
}

await main();
