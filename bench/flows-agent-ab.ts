// This build's agent against another build's (e.g. the previous revision), in the same cells: both
// run on the bench's veth with the same flags, each switched by its own gate (FLOWSCOPE_BENCH_GATE),
// and while trafgen sends without a break the phases go off, A, off, B, off, A ... (`phase ms` each).
// Each "on" phase is taken over the mean of the "off" phases on either side of it, as in
// bench/flows-pps.ts, so that A and B meet the same drift of this shared machine; B/A is each B
// phase over the mean of the A phases on either side of it.
//
//   node dist/bench/flows-agent-ab.js <reference checkout, built> [seconds per cell = 16] [phase ms = 50] [-- agent flags]
//   FLOWS_PPS_DELIVERY=delivered|dropped (default both), FLOWS_TRAFGEN=ring|sendto (default both),
//   FLOWS_AB_FIRST=this|reference (default this): which agent starts first. Its classifier runs first
//   on the interface, and on TX_RING traffic pulls the headers into the linear area for the other one
//   (which then reads them in place): run both orders.
//
// A = this build, B = the reference. The rule for stalled phases is flows-pps's: a phase whose "off"
// neighbours carried no packet gives no ratio, and is counted.
import { agentProcess, nsPerPacket, referenceAgent, type Switchable } from './flows-agent.js';
import { createTrafficBench, FLOW_COUNTS, quantile, type Delivery, type TrafficBench, type FlowCount, type TrafgenMode } from './flow-traffic.js';
import { fmt, median, table } from './support.js';

const dashdash = process.argv.indexOf('--');
const positional = process.argv.slice(2, dashdash < 0 ? undefined : dashdash);
const agentFlags = dashdash < 0 ? [] : process.argv.slice(dashdash + 1);
const refDir = positional[0];
if (!refDir) {
  console.error('usage: node dist/bench/flows-agent-ab.js <reference checkout, built> [seconds per cell = 16] [phase ms = 50] [-- agent flags]');
  process.exit(2);
}
const cellSeconds = Number(positional[1] ?? 16);
const phaseMs = Number(positional[2] ?? 50);
const referenceFirst = process.env.FLOWS_AB_FIRST === 'reference';

interface Pair {
  /** Ratios of A's and B's "on" phases to their "off" neighbours, and B over its A neighbours. */
  a: number[];
  b: number[];
  ba: number[];
  off: number[];
  stalled: number;
  nsA?: number;
  nsB?: number;
}

const ratio = (on: number, offBefore: number, offAfter: number): number | undefined => {
  const mean = (offBefore + offAfter) / 2;
  return mean > 0 ? on / mean : undefined;
};

async function measurePair(bench: TrafficBench, flows: FlowCount): Promise<Pair> {
  const start = (which: 'this' | 'reference'): Promise<Switchable> =>
    (which === 'this' ? agentProcess('this build', agentFlags) : referenceAgent(refDir!, 'reference', agentFlags)).prepare(bench.link);
  const first = await start(referenceFirst ? 'reference' : 'this');
  let second: Switchable | undefined;
  try {
    second = await start(referenceFirst ? 'this' : 'reference');
    const [a, b] = referenceFirst ? [second, first] : [first, second];
    const pair: Pair = { a: [], b: [], ba: [], off: [], stalled: 0 };
    const on: number[] = [];
    await bench.withTrafgen(flows, async () => {
      const phases = Math.max(4, Math.round((cellSeconds * 1000) / (2 * phaseMs)));
      pair.off.push(await bench.phase(phaseMs));
      for (let i = 0; i < phases; i++) {
        const sw = i % 2 === 0 ? a : b;
        await sw.on();
        on.push(await bench.phase(phaseMs));
        await sw.off();
        pair.off.push(await bench.phase(phaseMs));
        const r = ratio(on[i]!, pair.off[i]!, pair.off[i + 1]!);
        if (r === undefined) pair.stalled++;
        else (i % 2 === 0 ? pair.a : pair.b).push(r);
        // B (odd phases) over the A phases on either side of it.
        if (i % 2 === 0 && i >= 2) {
          const aMean = (on[i - 2]! + on[i]!) / 2;
          if (aMean > 0) pair.ba.push(on[i - 1]! / aMean);
        }
      }
      pair.nsA = await nsPerPacket(a);
      pair.nsB = await nsPerPacket(b);
    });
    return pair;
  } finally {
    await second?.close();
    await first.close();
  }
}

const pct = (xs: number[]): string => (xs.length ? `${fmt(100 * median(xs), 1)}% (${fmt(100 * quantile(xs, 0.25), 1)}-${fmt(100 * quantile(xs, 0.75), 1)})` : '-');

async function main(): Promise<void> {
  const deliveries = (process.env.FLOWS_PPS_DELIVERY ?? 'delivered,dropped').split(',') as Delivery[];
  const modes = (process.env.FLOWS_TRAFGEN ?? 'ring,sendto').split(',') as TrafgenMode[];
  const rows: Array<Record<string, string>> = [];
  for (const { mode, delivery } of modes.flatMap((mode) => deliveries.map((delivery) => ({ mode, delivery })))) {
    const bench = await createTrafficBench(delivery, mode);
    try {
      for (const flows of FLOW_COUNTS) {
        const p = await measurePair(bench, flows);
        const row = {
          traffic: `${mode === 'ring' ? 'TX_RING' : 'sendto'}, ${delivery === 'delivered' ? 'delivered' : 'closed port'}, ${flows === '1' ? '1 flow' : '65,536 peers'}`,
          'pps off': fmt(median(p.off)),
          'kept, this build': pct(p.a),
          'kept, reference': pct(p.b),
          'reference / this build': pct(p.ba),
          'BPF ns/pkt, this build / reference': `${p.nsA !== undefined ? fmt(p.nsA) : '-'} / ${p.nsB !== undefined ? fmt(p.nsB) : '-'}`,
          'phases (stalled)': `${p.a.length} + ${p.b.length}${p.stalled ? ` (${p.stalled} stalled)` : ''}`,
        };
        console.error(Object.values(row).join(' | '));
        rows.push(row);
      }
    } finally {
      bench.destroy();
    }
  }
  console.log(`${cellSeconds} s per cell, phases of ${phaseMs} ms (off, this build, off, reference, ...); ${referenceFirst ? 'the reference' : 'this build'} started first; agent flags: ${agentFlags.join(' ') || 'the defaults'}; "kept": median of the on/off ratios (in brackets the quartiles)\n`);
  console.log(table(rows));
}

await main();
