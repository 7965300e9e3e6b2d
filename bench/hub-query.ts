// Query latencies on a synthetic graph (default 10,000 pods, 100,000 edges, both sides joined) with
// an hour of history, through the hub's HTTP API, two builds side by side (A and B: e.g. the
// previous revision and this one), queries alternated A, B, A, B... so that a shared machine's
// load falls on both alike. Then each hub's memory and bytes on disk per edge-hour.
//
//   node dist/bench/hub-query.js compare DIR_A DIST_A DIR_B DIST_B [rounds]
//   node dist/bench/hub-query.js prepare DIR DIST [pods] [edges] [interval-seconds] [request-share]
//   node dist/bench/hub-query.js catch-up DIR DIST
//
// DIST is a build's dist/ directory (this one: dist). `prepare` writes a data directory with that
// build's own store: the dictionaries come from real ingest (one interval through accept and the
// join), the rest of the hour is written as the join's output, then rolled up and exported as the
// running hub does. `catch-up` opens a prepared directory with a build and runs its maintenance
// to the end (what a hub upgraded in place does over its first minutes: e.g. the five-minute
// sums), so that a directory prepared by one build serves another. `compare` starts one hub per build on its directory, with its clock at the end
// of the synthetic hour (a build that cannot set its clock gets the same absolute windows), and
// asks both the same queries; then, in a table of their own, store windows no query asked before
// (a different one each round: what a build keeps of the windows it read cannot answer them).
import { fork, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { createGunzip } from 'node:zlib';
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cluster, hello, intervalBatches, rng } from './hub-synthetic.js';
import { fmt, median, table } from './support.js';

const HOUR = 3_600_000;
const MINUTE = 60_000;
const here = fileURLToPath(import.meta.url);
const mode = process.argv[2];

interface Meta {
  pods: number;
  edges: number;
  intervalS: number;
  end: number;
  fine: number;
}

type Module = Record<string, any>;
const load = (dist: string, path: string): Promise<Module> => import(resolve(dist, path));

async function prepare(dir: string, dist: string, pods: number, edges: number, intervalS: number, requestShare: number): Promise<void> {
  const { DuckStore } = await load(dist, 'src/hub/store/duckdb.js');
  const { Ingest, DEFAULT_INGEST } = await load(dist, 'src/hub/ingest/pipeline.js');
  const { HubMetrics } = await load(dist, 'src/hub/metrics.js');
  const { C, newSide } = await load(dist, 'src/hub/graph/counters.js');
  const pino = (await import('pino')).default;
  const log = pino({ level: 'warn' });
  const c = cluster(pods, edges);
  const now = Date.now();
  const hourStart = Math.floor((now - HOUR) / MINUTE) * MINUTE;
  let t = Date.now();
  const duck = await DuckStore.open({ dataDir: dir, retentionMs: 86_400_000 });
  const ingest = await Ingest.open(duck, new HubMetrics(), log, DEFAULT_INGEST);
  await ingest.accept(Array.from({ length: c.nodes }, (_, n) => hello(c, n, intervalS * 1000)));
  for (const b of intervalBatches(c, 1, hourStart - intervalS * 1000, hourStart, rng(1))) await ingest.accept([b]);
  await ingest.finalize(Date.now(), true);
  const fine = ingest.edges.size;
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
    // Requests on that share of the samples (a build that stores them): mostly 2xx, some 4xx, a 5xx now and then.
    if (requestShare > 0 && C.requests !== undefined && r() < requestShare) {
      const q = 5 * n;
      s[C.requests] = q;
      s[C.statuses + 1] = q - 1;
      s[C.statuses + (r() < 0.2 ? 4 : 3)] = 1;
      s[C.requestErrors] = s[C.statuses + 4];
      s[C.request + 4] = q - 1;
      s[C.request + 8] = 1;
      s[C.request + 15] = (q - 1) * 0.004 + 0.08;
      s[C.request + 16] = q;
    }
    return s;
  });
  let rows = 0;
  for (let k = 1; k <= HOUR / (intervalS * 1000); k++) {
    const end = hourStart + k * intervalS * 1000;
    const batch = [];
    for (let e = 0; e < fine; e++) {
      batch.push({ t: end, durMs: intervalS * 1000, edge: e, side: 0, values: variants[(e + k) & 63]! });
      batch.push({ t: end, durMs: intervalS * 1000, edge: e, side: 1, values: variants[(e + k + 7) & 63]! });
    }
    await duck.write(batch, [], ingest.endpoints.list(), ingest.edges.values());
    rows += batch.length;
  }
  const written = (Date.now() - t) / 1000;
  t = Date.now();
  // All of the maintenance at once (a running hub spreads catching up over its runs).
  if ('fivesPerMaintain' in duck) duck.fivesPerMaintain = Infinity;
  await duck.maintain(hourStart + HOUR, hourStart + HOUR);
  console.log(`${dist}: ${fmt(pods)} pods, ${fmt(fine)} fine edges (${fmt(ingest.endpoints.size)} endpoints); an hour at ${intervalS} s: ${fmt(rows)} side samples written in ${fmt(written, 1)} s, rolled up in ${fmt((Date.now() - t) / 1000, 1)} s`);
  await duck.checkpoint();
  await duck.close();
  const meta: Meta = { pods, edges, intervalS, end: hourStart + HOUR, fine };
  writeFileSync(join(dir, 'bench.json'), JSON.stringify(meta));
}

async function catchUp(dir: string, dist: string): Promise<void> {
  const meta = JSON.parse(readFileSync(join(dir, 'bench.json'), 'utf8')) as Meta;
  const { DuckStore } = await load(dist, 'src/hub/store/duckdb.js');
  const duck = await DuckStore.open({ dataDir: dir, retentionMs: 86_400_000 });
  if ('fivesPerMaintain' in duck) duck.fivesPerMaintain = Infinity;
  const t = Date.now();
  const result = await duck.maintain(meta.end, meta.end);
  console.log(`${dist} on ${dir}: maintenance in ${fmt((Date.now() - t) / 1000, 1)} s: ${JSON.stringify(result)}`);
  await duck.checkpoint();
  await duck.close();
}

/** A hub of one build on its directory, answering the parent's messages. */
async function serve(dir: string, dist: string): Promise<void> {
  const meta = JSON.parse(readFileSync(join(dir, 'bench.json'), 'utf8')) as Meta;
  const { startHub } = await load(dist, 'src/hub/hub.js');
  const pino = (await import('pino')).default;
  let clock = meta.end;
  const rss0 = process.memoryUsage().rss;
  const hub = await startHub({ listen: { host: '127.0.0.1', port: 0 }, dataDir: dir, retentionMs: 86_400_000, version: 'bench', log: pino({ level: 'warn' }), now: () => clock, alerts: false });
  const live = (hub.store as Module).live as Module | undefined;
  const t0 = Date.now();
  if (live) while (!live.ready) await new Promise((r) => setTimeout(r, 100));
  // As users meet a hub: up for a few seconds (what it does once loaded, e.g. warming the default view, is done).
  const liveLoadS = live ? (Date.now() - t0) / 1000 : null;
  await new Promise((r) => setTimeout(r, 5000));
  process.send!({ url: hub.url, liveLoadS });
  process.on('message', async (m: { kind: string }) => {
    if (m.kind === 'stats') {
      const duck = (hub.store as Module).duck;
      const counts = await duck.rowCounts();
      process.send!({ rssMiB: process.memoryUsage().rss / 2 ** 20, growthMiB: (process.memoryUsage().rss - rss0) / 2 ** 20, disk: duck.diskBytes(), counts, answers: (hub.store as Module).answers ?? null });
    } else if (m.kind === 'upkeep') {
      // One interval of the live windows' upkeep: the clock moves by an interval, the windows
      // read back and subtract the samples they pass.
      if (!live) return process.send!({ upkeep: null });
      clock += meta.intervalS * 1000;
      const cpu0 = process.cpuUsage();
      const w0 = Date.now();
      await live.tick();
      const cpu = process.cpuUsage(cpu0);
      clock -= meta.intervalS * 1000;
      process.send!({ upkeep: { wallMs: Date.now() - w0, cpuMs: (cpu.user + cpu.system) / 1000 } });
    } else if (m.kind === 'stop') {
      await hub.close();
      process.exit(0);
    }
  });
}

function child(dir: string, dist: string): { proc: ChildProcess; ask: (m: object) => Promise<any> } {
  const proc = fork(here, ['serve', dir, dist], { stdio: 'inherit' });
  const waiting: Array<(v: unknown) => void> = [];
  // A message that comes before anyone waits for it (the second hub ready while the first loads) is kept.
  const early: unknown[] = [];
  proc.on('message', (m) => {
    const w = waiting.shift();
    if (w) w(m);
    else early.push(m);
  });
  const ask = (m: object): Promise<any> =>
    new Promise((res) => {
      if (Object.keys(m).length) {
        waiting.push(res);
        proc.send(m);
      } else if (early.length) res(early.shift());
      else waiting.push(res);
    });
  return { proc, ask };
}

/**
 * A GET read to its last byte and counted, not kept (as curl -o /dev/null would): the time is the
 * hub's answer and the transfer, not a client's copying of tens of megabytes (fetch's
 * arrayBuffer() added 0.3-1.5 s to a 44 MB graph). With gzip, the answer is decompressed too.
 */
function get(url: string, gzip: boolean): Promise<{ status: number; bytes: number; head: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers: { 'accept-encoding': gzip ? 'gzip' : 'identity' }, agent: false }, (res) => {
        const body = res.headers['content-encoding'] === 'gzip' ? res.pipe(createGunzip()) : res;
        let bytes = 0;
        let head = '';
        body.on('data', (d: Buffer) => {
          if (head.length < 300) head += d.subarray(0, 300).toString();
          bytes += d.length;
        });
        body.on('end', () => resolve({ status: res.statusCode ?? 0, bytes, head }));
        body.on('error', reject);
      })
      .on('error', reject);
  });
}

const p99 = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.99))]!;
const range = (xs: number[]): string => `${fmt(Math.min(...xs))}-${fmt(Math.max(...xs))}`;

async function compare(dirA: string, distA: string, dirB: string, distB: string, rounds: number): Promise<void> {
  const meta = JSON.parse(readFileSync(join(dirA, 'bench.json'), 'utf8')) as Meta;
  const c = cluster(meta.pods, meta.edges);
  const a = child(dirA, distA);
  const b = child(dirB, distB);
  const [ha, hb] = [await a.ask({}), await b.ask({})];
  console.log(`A ${distA} on ${dirA}; B ${distB} on ${dirB}: live windows loaded in ${hb.liveLoadS ?? '-'} s (B), ${ha.liveLoadS ?? '-'} s (A)`);
  const pod = c.pods[c.edges[0]![1]]!;
  const client = c.pods[c.edges[0]![0]]!;
  const wl = (p: typeof pod): string => `workload:${p.namespace}/${p.workload}`;
  const edge = encodeURIComponent(`workload|${wl(client)}|${wl(pod)}|${pod.port}`);
  // Windows end where each directory's hour ends (the two were prepared at different times): the
  // same windows relative to each build's data, so that the live windows can answer.
  const queriesAt = (end: number): Record<string, { path: string; gzip?: boolean }> => {
    const at = (fromMin: number, toMin = 0): string => `from=${new Date(end - fromMin * MINUTE).toISOString()}&to=${new Date(end - toMin * MINUTE).toISOString()}`;
    return {
      'graph view=workload (5 min)': { path: `/api/v1/graph?view=workload&${at(5)}` },
      'graph view=workload (5 min), gzip': { path: `/api/v1/graph?view=workload&${at(5)}`, gzip: true },
      'graph view=workload (5 min), sides=true': { path: `/api/v1/graph?view=workload&sides=true&${at(5)}` },
      'graph view=pod (5 min)': { path: `/api/v1/graph?view=pod&${at(5)}` },
      'graph view=workload (1 h)': { path: `/api/v1/graph?view=workload&${at(60)}` },
      'neighbourhood hops=2 (pod, 5 min)': { path: `/api/v1/neighbourhood?node=${encodeURIComponent(`pod:${pod.namespace}/${pod.name}`)}&hops=2&${at(5)}` },
      'breakdown by=node (workload edge, 5 min)': { path: `/api/v1/breakdown?by=node&edge=${edge}&${at(5)}` },
      'diff view=workload (5 min vs 30 min before)': { path: `/api/v1/diff?view=workload&${at(5)}&baseline_from=${new Date(end - 35 * MINUTE).toISOString()}&baseline_to=${new Date(end - 30 * MINUTE).toISOString()}` },
      'search q=<a pod name prefix>': { path: `/api/v1/search?q=${encodeURIComponent(pod.name.slice(0, 12))}` },
      'history edge 1 h, step 1 m': { path: `/api/v1/history?step=1m&${at(60)}&edge=${edge}` },
      'graph view=workload (20-15 min ago: the store)': { path: `/api/v1/graph?view=workload&${at(20, 15)}` },
    };
  };
  const metaB = JSON.parse(readFileSync(join(dirB, 'bench.json'), 'utf8')) as Meta;
  const perBuild: Record<'A' | 'B', Record<string, { path: string; gzip?: boolean }>> = { A: queriesAt(meta.end), B: queriesAt(metaB.end) };
  const queries = perBuild.A;
  const names = Object.keys(queries);
  const times = { A: new Map(names.map((k) => [k, [] as number[]])), B: new Map(names.map((k) => [k, [] as number[]])) };
  const sizes = { A: new Map<string, number>(), B: new Map<string, number>() };
  const run = async (which: 'A' | 'B', url: string, name: string): Promise<void> => {
    const q = perBuild[which][name]!;
    const started = process.hrtime.bigint();
    const { status, bytes, head } = await get(`${url}${q.path}`, q.gzip ?? false);
    times[which].get(name)!.push(Number(process.hrtime.bigint() - started) / 1e6);
    if (status !== 200) throw new Error(`${which} ${name}: ${status} ${head}`);
    sizes[which].set(name, bytes);
  };
  for (let r = 0; r < rounds; r++) {
    for (const name of r % 2 ? [...names].reverse() : names) {
      // Alternate which build goes first, too.
      if ((r + names.indexOf(name)) % 2) {
        await run('A', ha.url, name);
        await run('B', hb.url, name);
      } else {
        await run('B', hb.url, name);
        await run('A', ha.url, name);
      }
    }
  }
  // Then store windows no query asked before (what a build keeps of the windows it read cannot
  // answer them): a different one each round, 5 minutes on minutes and 5 minutes off them, going
  // back a minute a round from 26-21 minutes ago (after the rounds above: they do not change
  // what those found kept).
  const freshAt = (end: number, name: string, r: number): string => {
    const off = name.includes('off') ? 25_000 : 0;
    return `/api/v1/graph?view=workload&from=${new Date(end - (26 + r) * MINUTE - off).toISOString()}&to=${new Date(end - (21 + r) * MINUTE - off).toISOString()}`;
  };
  const freshNames = ['graph view=workload, a new store window each round (on minutes)', 'graph view=workload, a new store window each round (25 s off minutes)'];
  for (const name of freshNames) {
    times.A.set(name, []);
    times.B.set(name, []);
  }
  for (let r = 0; r < rounds; r++) {
    for (const name of freshNames) {
      for (const which of r % 2 ? (['A', 'B'] as const) : (['B', 'A'] as const)) {
        perBuild[which][name] = { path: freshAt(which === 'A' ? meta.end : metaB.end, name, r) };
        await run(which, which === 'A' ? ha.url : hb.url, name);
      }
    }
  }
  console.log(`\n${rounds} rounds, queries alternated A/B over HTTP on loopback, each answer read to its last byte and counted (node:http; JSON included; the gzip row asks for gzip and decompresses); median (min-max) ms\n`);
  const rows = (list: string[]): string =>
    table(
      list.map((name) => {
        const xa = times.A.get(name)!;
        const xb = times.B.get(name)!;
        const ratios = xb.map((x, i) => x / xa[i]!);
        return {
          query: name,
          'A median (min-max)': `${fmt(median(xa))} (${range(xa)})`,
          'A p99': fmt(p99(xa)),
          'B median (min-max)': `${fmt(median(xb))} (${range(xb)})`,
          'B p99': fmt(p99(xb)),
          'B/A median (min-max)': `${fmt(median(ratios), 3)} (${fmt(Math.min(...ratios), 3)}-${fmt(Math.max(...ratios), 3)})`,
          'KiB A / B': `${fmt((sizes.A.get(name) ?? 0) / 1024)} / ${fmt((sizes.B.get(name) ?? 0) / 1024)}`,
        };
      }),
    );
  console.log(rows(names));
  console.log(`\nStore windows not asked before, ${rounds} rounds after those above:\n`);
  console.log(rows(freshNames));
  console.log('\nEach round, ms (A | B):');
  for (const name of [...names.filter((n) => /store|diff/.test(n)), ...freshNames]) console.log(`  ${name}: ${times.A.get(name)!.map((x) => fmt(x)).join(' ')} | ${times.B.get(name)!.map((x) => fmt(x)).join(' ')}`);
  const up = await b.ask({ kind: 'upkeep' });
  if (up.upkeep) console.log(`\nB's live windows, one ${meta.intervalS} s interval of upkeep (read back and subtract ${fmt(meta.fine * 2)} side samples per window): ${fmt(up.upkeep.cpuMs)} ms CPU, ${fmt(up.upkeep.wallMs)} ms wall`);
  const sa = await a.ask({ kind: 'stats' });
  const sb = await b.ask({ kind: 'stats' });
  console.log(
    `\n${table(
      [
        ['hub RSS after the queries, MiB', sa.rssMiB, sb.rssMiB],
        ['hub RSS growth from opening and querying, MiB', sa.growthMiB, sb.growthMiB],
        ['bytes on disk (DuckDB + Parquet)', sa.disk, sb.disk],
        ['bytes on disk per edge-hour', sa.disk / sa.counts.edges, sb.disk / sb.counts.edges],
      ].map(([measure, x, y]) => ({ measure: String(measure), A: fmt(Number(x)), B: fmt(Number(y)) })),
    )}`,
  );
  if (sb.answers) console.log(`B's answers: ${sb.answers.live} from the live windows, ${sb.answers.store} from the store`);
  for (const h of [a, b]) h.proc.send({ kind: 'stop' });
}

if (mode === 'prepare') {
  const [dir, dist, pods, edges, interval, requestShare] = process.argv.slice(3);
  await prepare(resolve(dir!), resolve(dist!), Number(pods ?? 10_000), Number(edges ?? 100_000), Number(interval ?? 60), Number(requestShare ?? 0));
} else if (mode === 'catch-up') {
  await catchUp(resolve(process.argv[3]!), resolve(process.argv[4]!));
} else if (mode === 'serve') {
  await serve(process.argv[3]!, process.argv[4]!);
} else if (mode === 'compare') {
  const [dirA, distA, dirB, distB, rounds] = process.argv.slice(3);
  for (const d of [dirA, dirB]) if (!existsSync(join(d!, 'bench.json'))) throw new Error(`${d} has no bench.json: run prepare first`);
  await compare(resolve(dirA!), resolve(distA!), resolve(dirB!), resolve(distB!), Number(rounds ?? 5));
} else if (mode === 'copy') {
  // The same data for both builds when their stores agree: a copy of a prepared directory.
  cpSync(process.argv[3]!, process.argv[4]!, { recursive: true });
} else {
  console.error('usage: hub-query.js prepare DIR DIST [pods] [edges] [interval-s] | catch-up DIR DIST | compare DIR_A DIST_A DIR_B DIST_B [rounds]');
  process.exit(2);
}
