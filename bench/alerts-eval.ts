// What alerting costs the hub at 100,000 edges: one evaluation per interval (the interval's data
// folded into every edge's windows, then every edge judged), the spikes at bucket boundaries and
// when a point of history is kept, saving the state, and memory per edge.
//
//   node --expose-gc dist/bench/alerts-eval.js [EDGES=100000] [INTERVALS=120] [ROUNDS=3]
//
// The engine runs with the production defaults (1-minute and 10-minute buckets, 5-minute anomaly
// window, 24 points of history, the SRE workbook's two burn-rate pairs). Time is simulated (one
// interval per second of simulated clock, evaluated back to back), so the figures are CPU time
// per interval; at a 1 s interval, X ms per evaluation is X/10 % of a core.
import { performance } from 'node:perf_hooks';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import type { wire } from '../src/model/index.js';
import { CONNECT_BUCKETS, RTT_BUCKETS } from '../src/model/distribution.js';
import { addTcpRecord, newSide, type Side } from '../src/hub/graph/counters.js';
import { processEndpoint } from '../src/hub/graph/endpoint.js';
import type { ResolvedEdge } from '../src/hub/store/store.js';
import { defaultAlertsConfig } from '../src/hub/alerts/config/load.js';
import { AlertEngine, type TcpInput } from '../src/hub/alerts/engine/engine.js';
import { captureState, DuckAlertState } from '../src/hub/alerts/persist.js';

const EDGES = Number(process.argv[2] ?? 100_000);
const INTERVALS = Number(process.argv[3] ?? 120);
const ROUNDS = Number(process.argv[4] ?? 3);
const gc = (globalThis as { gc?: () => void }).gc;

const hist = (layout: readonly number[], i: number, n: number, v: number): wire.HistogramV1 => ({ counts: layout.map((_, j) => (j === i ? n : 0)), sum: n * v, count: n });

function side(r: Partial<wire.TcpEdgeV1>): Side {
  const s = newSide();
  addTcpRecord(s, { role: 'client', process: 'p', peer: '', port: 0, local: {}, remote: {}, opened: 0, closed: 0, active: 0, bytes_sent: 0, bytes_received: 0, retransmits: 0, resets_sent: 0, resets_received: 0, ...r });
  return s;
}

/** 100,000 distinct workload-to-workload edges over 10,000 workloads (each its own view edge). */
function edges(n: number): ResolvedEdge[] {
  const out: ResolvedEdge[] = [];
  for (let i = 0; i < n; i++) {
    const client = processEndpoint(`node-${i % 50}`, 'z', 'client', '', { pod: `c-${i % 10_000}-0`, namespace: `ns${i % 20}`, workload: `w${i % 10_000}` });
    const server = processEndpoint(`node-${(i * 7) % 50}`, 'z', 'server', '', { pod: `s-${(i * 31 + Math.floor(i / 10_000)) % 10_000}-0`, namespace: `ns${(i * 3) % 20}`, workload: `w${(i * 31 + 1 + Math.floor(i / 10_000)) % 10_000}` });
    out.push({ key: String(i), client, server, port: 8000 + Math.floor(i / 10_000), protocol: 'tcp' });
  }
  return out;
}

const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};
const fmt = (x: number, d = 1): string => x.toFixed(d);
const heap = (): number => {
  gc?.();
  gc?.();
  return process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
};

async function round(r: number): Promise<Record<string, number>> {
  const config = defaultAlertsConfig({ externalUrl: 'http://hub' });
  const list = edges(EDGES);
  const client = side({ opened: 5, closed: 5, bytes_sent: 5000, bytes_received: 20_000, connect: hist(CONNECT_BUCKETS, 3, 5, 0.0008), rtt: hist(RTT_BUCKETS, 2, 5, 0.0002) });
  const server = side({ opened: 5, closed: 5, bytes_sent: 20_000, bytes_received: 5000, rtt: hist(RTT_BUCKETS, 2, 5, 0.0002) });
  const resolve = (id: number): ResolvedEdge => list[id]!;
  const before = heap();
  const engine = new AlertEngine(config);
  let t = Date.UTC(2026, 0, 1, 0, 0, 30) + r * 3_600_000;
  // The join's contributions of one interval (made once and re-dated: the join's own allocations
  // are the hub's ingest cost, not alerting's).
  const inputs: TcpInput[] = new Array(list.length * 2);
  for (let i = 0; i < list.length; i++) {
    inputs[2 * i] = { edge: i, side: 0, values: client, t };
    inputs[2 * i + 1] = { edge: i, side: 1, values: server, t };
  }
  const interval = (): TcpInput[] => {
    for (const x of inputs) x.t = t;
    return inputs;
  };
  // First interval: every edge is new (slots made, learned).
  engine.addTcp(interval(), resolve);
  const first = performance.now();
  engine.tick(t + 500);
  const firstMs = performance.now() - first;
  const perEdge = (heap() - before) / EDGES;
  const withData: number[] = [];
  const cpu: number[] = [];
  const judgeOnly: number[] = [];
  for (let k = 0; k < INTERVALS; k++) {
    t += 1000;
    engine.addTcp(interval(), resolve);
    const c0 = process.cpuUsage();
    const a = performance.now();
    engine.tick(t + 500);
    withData.push(performance.now() - a);
    const c1 = process.cpuUsage(c0);
    cpu.push((c1.user + c1.system) / 1000);
    // The same evaluation with nothing new: judging every edge alone.
    const b = performance.now();
    engine.tick(t + 600);
    judgeOnly.push(performance.now() - b);
  }
  const points = performance.now();
  engine.edges.recordPoints(() => false);
  const pointsMs = performance.now() - points;
  const advance = performance.now();
  engine.edges.advance(t + 10 * 60_000);
  const advanceMs = performance.now() - advance;
  // Saving: capture (copies) and the DuckDB write, into a file like the hub's.
  const dir = mkdtempSync(join(tmpdir(), 'fs-alerts-bench-'));
  const db = await DuckDBInstance.create(join(dir, 'state.duckdb'));
  const store = await DuckAlertState.open(() => db.connect());
  const c = performance.now();
  const snap = captureState(engine, {}, t, store.saved);
  const captureMs = performance.now() - c;
  const s = performance.now();
  const firstBytes = await store.save(snap, engine.unsavedKnown.map((id): [string, number] => [id, engine.known.get(id)!]));
  const firstSaveMs = performance.now() - s;
  // The saves after the first: windows and baselines again, slot descriptions only for new slots.
  const c2 = performance.now();
  const snap2 = captureState(engine, {}, t, store.saved);
  const captureMs2 = performance.now() - c2;
  const s2 = performance.now();
  const bytes = await store.save(snap2, []);
  const saveMs = performance.now() - s2;
  store.close();
  db.closeSync();
  rmSync(dir, { recursive: true, force: true });
  return {
    firstMs,
    p50: quantile(withData, 0.5),
    cpuP50: quantile(cpu, 0.5),
    cpuMean: cpu.reduce((a, b) => a + b, 0) / cpu.length,
    p99: quantile(withData, 0.99),
    max: Math.max(...withData),
    judgeP50: quantile(judgeOnly, 0.5),
    pointsMs,
    advanceMs,
    captureMs: captureMs2,
    saveMs,
    stateMB: bytes / 1e6,
    firstSaveMs: captureMs + firstSaveMs,
    firstMB: firstBytes / 1e6,
    perEdge,
    typedPerEdge: engine.edges.bytesPerSlot,
    slots: engine.edges.slots.length,
  };
}

const results: Array<Record<string, number>> = [];
console.log(`alerts evaluation: ${EDGES} edges, ${INTERVALS} intervals per round, ${ROUNDS} rounds; load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}${gc ? '' : ' (run with --expose-gc for memory figures)'}`);
for (let r = 0; r < ROUNDS; r++) {
  const x = await round(r);
  results.push(x);
  console.log(
    `round ${r + 1}: evaluation with the interval's data: CPU p50 ${fmt(x.cpuP50!)} ms, mean ${fmt(x.cpuMean!)} ms; wall p50 ${fmt(x.p50!)} ms, p99 ${fmt(x.p99!)} ms, max ${fmt(x.max!)} ms; judging alone p50 ${fmt(x.judgeP50!)} ms; first interval (all edges new) ${fmt(x.firstMs!)} ms; ` +
      `history point for every edge ${fmt(x.pointsMs!)} ms; 10-minute bucket move ${fmt(x.advanceMs!)} ms; state capture ${fmt(x.captureMs!)} ms + DuckDB write ${fmt(x.saveMs!)} ms (${fmt(x.stateMB!)} MB; the first save, with every edge's description, ${fmt(x.firstSaveMs!)} ms); ` +
      `memory ${fmt(x.perEdge!, 0)} B/edge (typed arrays ${x.typedPerEdge} B), ${x.slots} edges`,
  );
}
const med = (k: string): number => quantile(results.map((x) => x[k]!), 0.5);
const range = (k: string): string => `${fmt(Math.min(...results.map((x) => x[k]!)))}-${fmt(Math.max(...results.map((x) => x[k]!)))}`;
console.log(`\nmedian of rounds (min-max): evaluation CPU p50 ${fmt(med('cpuP50'))} ms (${range('cpuP50')}), mean ${fmt(med('cpuMean'))} ms (${range('cpuMean')}) = ${fmt(med('cpuMean') / 10, 2)}% of a core at a 1 s interval; wall p50 ${fmt(med('p50'))} ms (${range('p50')}), p99 ${fmt(med('p99'))} ms (${range('p99')}); judging alone ${fmt(med('judgeP50'))} ms (${range('judgeP50')})`);
console.log(`history point ${fmt(med('pointsMs'))} ms (${range('pointsMs')}); bucket move ${fmt(med('advanceMs'))} ms; state ${fmt(med('stateMB'))} MB saved in ${fmt(med('captureMs') + med('saveMs'))} ms (first save ${fmt(med('firstSaveMs'))} ms); memory ${fmt(med('perEdge'), 0)} B per edge (${range('perEdge')})`);
