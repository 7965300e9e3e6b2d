// Query latencies on a synthetic graph (default 10,000 pods, 100,000 edges, both sides joined) with
// an hour of history, through the hub's HTTP API: graph (workload and pod views), neighbourhood
// (2 hops), breakdown, diff, search, history. Then the hub's memory and bytes on disk per edge-hour.
//   node dist/bench/hub-query.js [pods] [edges] [interval-seconds] [runs]
// The dictionaries come from real ingest (one interval through accept and the join); the rest of
// the hour is written as samples directly (the join's output), then rolled up and exported as the
// running hub does. Runs alternate the queries; medians and p99 over runs.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { DuckStore, HOUR, MINUTE, type SampleRow } from '../src/hub/store/duckdb.js';
import { Ingest, DEFAULT_INGEST } from '../src/hub/ingest/pipeline.js';
import { HubMetrics } from '../src/hub/metrics.js';
import { startHub } from '../src/hub/hub.js';
import { C, newSide } from '../src/hub/graph/counters.js';
import { cluster, hello, intervalBatches, rng } from './hub-synthetic.js';
import { fmt, median, table } from './support.js';

const pods = Number(process.argv[2] ?? 10_000);
const edges = Number(process.argv[3] ?? 100_000);
const intervalS = Number(process.argv[4] ?? 30);
const runs = Number(process.argv[5] ?? 15);
const log = pino({ level: 'warn' });
const dir = mkdtempSync(join(tmpdir(), 'flowscope-bench-query-'));

const c = cluster(pods, edges);
const now = Date.now();
const hourStart = Math.floor((now - HOUR) / MINUTE) * MINUTE;

// 1. Dictionaries through the real ingest and join: one interval, every node.
let t = Date.now();
{
  const duck = await DuckStore.open({ dataDir: dir, retentionMs: 86_400_000 });
  const ingest = await Ingest.open(duck, new HubMetrics(), log, DEFAULT_INGEST);
  await ingest.accept(Array.from({ length: c.nodes }, (_, n) => hello(c, n, intervalS * 1000)));
  const batches = intervalBatches(c, 1, hourStart - intervalS * 1000, hourStart, rng(1));
  for (const b of batches) await ingest.accept([b]);
  await ingest.finalize(Date.now(), true);
  const fine = ingest.edges.size;
  // 2. The hour: every fine edge, both sides, every interval.
  const r = rng(9);
  const variants = Array.from({ length: 64 }, () => {
    const s = newSide();
    const n = 1 + Math.floor(r() * 5);
    s[C.opened] = n;
    s[C.closed] = n;
    s[C.active] = 1;
    s[C.bytesSent] = 1000 + Math.floor(r() * 5000);
    s[C.bytesReceived] = 4000 + Math.floor(r() * 20000);
    s[C.connect + 3] = n;
    s[C.connect + 16] = n * 0.001;
    s[C.connect + 17] = n;
    s[C.rtt + 2] = n;
    s[C.rtt + 15] = n * 0.0002;
    s[C.rtt + 16] = n;
    if (r() < 0.05) s[C.failures + 1] = 1;
    return s;
  });
  let rows = 0;
  for (let k = 1; k <= HOUR / (intervalS * 1000); k++) {
    const end = hourStart + k * intervalS * 1000;
    const batch: SampleRow[] = [];
    for (let e = 0; e < fine; e++) {
      batch.push({ t: end, durMs: intervalS * 1000, edge: e, side: 0, values: variants[(e + k) & 63]! });
      batch.push({ t: end, durMs: intervalS * 1000, edge: e, side: 1, values: variants[(e + k + 7) & 63]! });
    }
    await duck.write(batch, [], ingest.endpoints.list(), ingest.edges.values());
    rows += batch.length;
  }
  const written = (Date.now() - t) / 1000;
  t = Date.now();
  await duck.maintain(now, now);
  console.log(`${fmt(pods)} pods, ${fmt(fine)} fine edges (${fmt(ingest.endpoints.size)} endpoints); an hour at ${intervalS} s: ${fmt(rows)} side samples written in ${fmt(written, 1)} s, rolled up in ${fmt((Date.now() - t) / 1000, 1)} s`);
  await duck.checkpoint();
  await duck.close();
}

// 3. The hub on that data; queries over HTTP.
const rssBefore = process.memoryUsage().rss;
const hub = await startHub({ listen: { host: '127.0.0.1', port: 0 }, dataDir: dir, retentionMs: 86_400_000, version: 'bench', log });
const pod = c.pods[c.edges[0]![1]]!;
const client = c.pods[c.edges[0]![0]]!;
const wl = (p: typeof pod): string => `workload:${p.namespace}/${p.workload}`;
// Windows end where the synthetic hour ends (writing it takes minutes).
const end = hourStart + HOUR;
const at = (fromMin: number, toMin = 0): string => `from=${new Date(end - fromMin * MINUTE).toISOString()}&to=${new Date(end - toMin * MINUTE).toISOString()}`;
const queries: Record<string, string> = {
  'graph view=workload (5 min)': `/api/v1/graph?view=workload&${at(5)}`,
  'graph view=pod (5 min)': `/api/v1/graph?view=pod&${at(5)}`,
  'graph view=workload (1 h)': `/api/v1/graph?view=workload&${at(59)}`,
  'neighbourhood hops=2 (pod)': `/api/v1/neighbourhood?node=${encodeURIComponent(`pod:${pod.namespace}/${pod.name}`)}&hops=2&${at(5)}`,
  'breakdown by=node (workload edge)': `/api/v1/breakdown?by=node&edge=${encodeURIComponent(`workload|${wl(client)}|${wl(pod)}|${pod.port}`)}&${at(5)}`,
  'diff view=workload (5 min vs 30 min before)': `/api/v1/diff?view=workload&${at(5)}&baseline_from=${new Date(end - 35 * MINUTE).toISOString()}&baseline_to=${new Date(end - 30 * MINUTE).toISOString()}`,
  'search q=<a pod name prefix>': `/api/v1/search?q=${encodeURIComponent(pod.name.slice(0, 12))}`,
  'history edge 1 h, step 1 m': `/api/v1/history?step=1m&${at(59)}&edge=${encodeURIComponent(`workload|${wl(client)}|${wl(pod)}|${pod.port}`)}`,
};
const times = new Map(Object.keys(queries).map((k) => [k, [] as number[]]));
const sizes = new Map<string, number>();
for (let r = 0; r < runs; r++) {
  const names = Object.keys(queries);
  for (const name of r % 2 ? names.reverse() : names) {
    const started = process.hrtime.bigint();
    const res = await fetch(`${hub.url}${queries[name]}`);
    const body = await res.text();
    times.get(name)!.push(Number(process.hrtime.bigint() - started) / 1e6);
    if (res.status !== 200) throw new Error(`${name}: ${res.status} ${body.slice(0, 300)}`);
    sizes.set(name, body.length);
  }
}
const p99 = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.99))]!;
console.log(`\n${runs} runs per query, alternating order, over HTTP on loopback (JSON included)\n`);
console.log(
  table(
    [...times].map(([name, xs]) => ({ query: name, 'median ms': fmt(median(xs)), 'p99 ms': fmt(p99(xs)), 'answer KiB': fmt((sizes.get(name) ?? 0) / 1024) })),
  ),
);
const duck = (hub.store as unknown as { duck: DuckStore }).duck;
const disk = duck.diskBytes();
const counts = await duck.rowCounts();
const rss = process.memoryUsage().rss;
console.log(
  `\n${table([
    { measure: 'hub RSS after the queries, MiB', value: fmt(rss / 2 ** 20) },
    { measure: 'hub RSS growth from opening and querying, MiB', value: fmt((rss - rssBefore) / 2 ** 20) },
    { measure: 'bytes on disk (DuckDB + Parquet)', value: fmt(disk) },
    { measure: 'bytes on disk per edge-hour', value: fmt(disk / counts.edges!, 0) },
    { measure: 'rows: samples / minutes', value: `${fmt(counts.samples!)} / ${fmt(counts.minutes!)}` },
  ])}`,
);
await hub.close();
rmSync(dir, { recursive: true, force: true });
