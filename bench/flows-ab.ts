// Two builds of a classifier, A and B, on the same traffic: while trafgen sends without a break, A
// and B take turns on the interface's ingress every `phase ms`, so that the shared machine's drift
// cancels out. Prints B's packet rate over A's (each B phase over the mean of the A phases on either
// side) and both programs' BPF run time per packet (statistics on for the whole run, for both).
//
//   node dist/bench/flows-ab.js A.bpf.o[:prog] B.bpf.o[:prog] [seconds per flow count = 10] [phase ms = 50]
//        [--global name=value ...]   read-only settings given to both (e.g. track_flows=0)
//        [--max map=entries ...]     max_entries given to both (e.g. edges=131072, as the agent's --max-flows)
//   A or B may carry its own settings after '@': B.bpf.o@edge_table_mask=262143,max.edge_table=262144
//   (name=value for a read-only setting, max.map=entries for a map's size; they override the shared ones)
//   FLOWS_AB_DELIVERY=delivered|dropped (default dropped): see bench/flow-traffic.ts
//
// The program defaults to flow_in; TC programs go on the veth's ingress, others where their section says
// (e.g. drop_btf on skb:kfree_skb: every packet of the bench is a drop). Build A from another revision with the Makefile's BPF flags.
import { BpfObject, enableBpfStats, type Link } from '../src/bpf/index.js';
import { fmt, median } from './support.js';
import { createTrafficBench, FLOW_COUNTS, quantile, type Delivery } from './flow-traffic.js';

function usage(msg: string): never {
  console.error(`${msg}\nusage: node dist/bench/flows-ab.js A.bpf.o[:prog] B.bpf.o[:prog] [seconds = 10] [phase ms = 50] [--global name=value ...] [--max map=entries ...]`);
  process.exit(2);
}

const args = process.argv.slice(2);
const globals: Record<string, number> = {};
const maxEntries: Record<string, number> = {};
const positional: string[] = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--global') {
    const m = /^(\w+)=(\d+)$/.exec(args[++i] ?? '');
    if (!m) usage(`--global wants name=value, got '${args[i] ?? ''}'`);
    globals[m[1]!] = Number(m[2]);
  } else if (args[i] === '--max') {
    const m = /^(\w+)=(\d+)$/.exec(args[++i] ?? '');
    if (!m) usage(`--max wants map=entries, got '${args[i] ?? ''}'`);
    maxEntries[m[1]!] = Number(m[2]);
  } else positional.push(args[i]!);
}
if (positional.length < 2) usage('two objects are needed');
const [specA, specB] = positional as [string, string];
const seconds = Number(positional[2] ?? 10);
const phaseMs = Number(positional[3] ?? 50);

async function main(): Promise<void> {
  // Loaded before the namespace is made: a program the verifier rejects leaves nothing behind.
  const loaded: Array<{ obj: BpfObject; prog: string; name: string }> = [];
  try {
    for (const spec of [specA, specB]) {
      const [where, own = ''] = spec.split('@') as [string, string?];
      const [path, prog = 'flow_in'] = where.split(':') as [string, string?];
      const g = { ...globals };
      const m = { ...maxEntries };
      for (const item of own.split(',').filter(Boolean)) {
        const kv = /^(max\.)?(\w+)=(\d+)$/.exec(item);
        if (!kv) usage(`'${item}' in '${spec}': want name=value or max.map=entries`);
        (kv[1] ? m : g)[kv[2]!] = Number(kv[3]);
      }
      loaded.push({ obj: BpfObject.load(path, { programs: [prog], globals: g, maxEntries: m }), prog, name: spec.includes(':') || own ? spec : `${path}:${prog}` });
    }
  } catch (err) {
    for (const l of loaded) l.obj.close();
    throw err;
  }
  const bench = await createTrafficBench((process.env.FLOWS_AB_DELIVERY ?? 'dropped') as Delivery);
  const stats = enableBpfStats();
  try {
    for (const flows of FLOW_COUNTS) {
      const pps: number[][] = [[], []];
      const ratios: number[] = [];
      const run0 = loaded.map((l) => l.obj.program(l.prog).stats());
      await bench.withTrafgen(flows, async () => {
        const turns = Math.max(3, Math.round((seconds * 1000) / (2 * phaseMs)));
        let link: Link | undefined;
        const take = async (which: 0 | 1): Promise<void> => {
          // The new one first, then the old one off: never a moment without a program.
          const prog = loaded[which]!.obj.program(loaded[which]!.prog);
          const next = prog.section.startsWith('tc') ? prog.attachTc({ interface: bench.link.host, direction: 'ingress' }) : prog.attach();
          link?.destroy();
          link = next;
          pps[which]!.push(await bench.phase(phaseMs));
        };
        try {
          await take(0);
          for (let i = 0; i < turns; i++) {
            await take(1);
            await take(0);
            // A turn whose A phases on either side carried nothing (the sender stalled) has no ratio.
            const aMean = (pps[0]![i]! + pps[0]![i + 1]!) / 2;
            if (aMean > 0) ratios.push(pps[1]![i]! / aMean);
          }
        } finally {
          link?.destroy();
        }
      });
      const ns = loaded.map((l, i) => {
        const s = l.obj.program(l.prog).stats();
        return (s.runTimeNs - run0[i]!.runTimeNs) / Math.max(1, s.runCount - run0[i]!.runCount);
      });
      console.log(
        `${flows === '1' ? '1 flow' : '65,536 flows'}: B/A ${fmt(100 * median(ratios), 1)}% (quartiles ${fmt(100 * quantile(ratios, 0.25), 1)}-${fmt(100 * quantile(ratios, 0.75), 1)}, ${ratios.length} turns); ` +
          `A ${fmt(median(pps[0]!))} pps, ${fmt(ns[0]!)} ns/pkt; B ${fmt(median(pps[1]!))} pps, ${fmt(ns[1]!)} ns/pkt`,
      );
    }
  } finally {
    stats.close();
    for (const l of loaded) l.obj.close();
    bench.destroy();
  }
  console.log(`A = ${loaded[0]!.name}, B = ${loaded[1]!.name}${Object.keys(globals).length ? `, settings ${JSON.stringify(globals)}` : ''}${Object.keys(maxEntries).length ? `, max_entries ${JSON.stringify(maxEntries)}` : ''}`);
}

await main();
