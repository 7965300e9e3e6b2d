// Ingest: edge records per second the hub absorbs (accepted, joined, written to DuckDB), and the
// hub's CPU per record, from simulated agents in a child process posting gzip JSON batches over
// HTTP; end-to-end lag from a batch's arrival to its samples being written.
//   node dist/bench/hub-ingest.js [pods] [edges] [intervals] [--paced] [--json] [--records]
// Batches go as frames (wire/frames.ts: a JSON header, the TCP columns in binary), as agents send
// them; --json sends them as JSON with the TCP records as columns (tcp_columns, agents before the
// frames), --records as JSON records (older agents still).
// Defaults: 10,000 pods on 100 nodes, 100,000 edges (200,000 side records per interval), 10 intervals.
// Without --paced the intervals are posted back to back (throughput; the lag then includes the
// queue); with --paced each interval is posted when it ends, as agents do (the steady-state lag).
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import pino from 'pino';
import { startHub } from '../src/hub/hub.js';
import { columnarBatch } from '../src/model/wire/columns.js';
import { encodeFrame, FRAMES_CONTENT_TYPE } from '../src/model/wire/frames.js';
import { cluster, hello, intervalBatches, rng } from './hub-synthetic.js';
import { cpuSeconds, fmt, median, table } from './support.js';

const paced = process.argv.includes('--paced');
const records = process.argv.includes('--records');
const json = records || process.argv.includes('--json');
const args = process.argv.filter((a) => a !== '--paced' && a !== '--records' && a !== '--json');
const off = args[2] === '--agents' ? 1 : 0;
const pods = Number(args[2 + off] ?? 10_000);
const edges = Number(args[3 + off] ?? 100_000);
const intervals = Number(args[4 + off] ?? 10);
const intervalMs = 10_000;

if (args[2] === '--agents') {
  // The agents: build every node's batches for each interval, gzip them, post them (4 at a time).
  const url = args[6]!;
  const c = cluster(pods, edges);
  const r = rng(3);
  const post = async (body: Buffer, attempt = 1, type = json ? 'application/json' : FRAMES_CONTENT_TYPE): Promise<void> => {
    // A kept-alive socket the hub closed meanwhile: sent again, as agents do (batches are idempotent).
    const res = await fetch(`${url}/api/v1/ingest`, { method: 'POST', headers: { 'content-type': type, 'content-encoding': 'gzip' }, body }).catch((err: unknown) => {
      if (attempt < 3) return undefined;
      throw err;
    });
    if (!res) return post(body, attempt + 1, type);
    if (res.status !== 200) throw new Error(`ingest answered ${res.status}: ${await res.text()}`);
  };
  await post(gzipSync(JSON.stringify(Array.from({ length: c.nodes }, (_, n) => hello(c, n, intervalMs)))), 1, 'application/json');
  const t0 = paced ? Date.now() : Date.now() - (intervals + 1) * intervalMs;
  let sent = 0;
  let sendMs = 0;
  for (let i = 1; i <= intervals; i++) {
    const bodies = intervalBatches(c, i, t0 + (i - 1) * intervalMs, t0 + i * intervalMs, r).map((b) => {
      sent += b.tcp.length;
      return gzipSync(json ? JSON.stringify(records ? b : columnarBatch(b)) : encodeFrame(columnarBatch(b)));
    });
    // Paced: each interval is sent once it has ended (its bodies made while it runs, as agents do).
    if (paced) await new Promise((r) => setTimeout(r, Math.max(0, t0 + i * intervalMs - Date.now())));
    const started = Date.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < bodies.length) await post(bodies[next++]!);
      }),
    );
    sendMs += Date.now() - started;
  }
  process.send!({ records: sent, sendMs });
  process.exit(0);
}

const dir = mkdtempSync(join(tmpdir(), 'flowscope-bench-hub-'));
const hub = await startHub({ listen: { host: '127.0.0.1', port: 0 }, dataDir: dir, retentionMs: 86_400_000, version: 'bench', log: pino({ level: 'warn' }), finalizeMs: 200 });
const ingest = hub.ingest!;
const acceptedAt = new Map<string, number>();
const lags: number[] = [];
let written = 0;
ingest.onFinalized((f) => {
  const now = Date.now();
  written += f.samples.size;
  const t = String(f.t);
  const a = acceptedAt.get(t);
  if (a !== undefined) lags.push(now - a);
});
// The first arrival of each interval's batches (their interval end identifies them).
const accept = ingest.accept.bind(ingest);
ingest.accept = async (messages, nowMs, raw) => {
  for (const m of messages) if (m.kind === 'batch' && !acceptedAt.has(String(Date.parse(m.to)))) acceptedAt.set(String(Date.parse(m.to)), Date.now());
  return accept(messages, nowMs, raw);
};

const cpu0 = process.cpuUsage();
const wall0 = Date.now();
const child = fork(fileURLToPath(import.meta.url), ['--agents', String(pods), String(edges), String(intervals), hub.url, ...(paced ? ['--paced'] : []), ...(json ? ['--json'] : []), ...(records ? ['--records'] : [])], { stdio: 'inherit' });
const sent = await new Promise<{ records: number; sendMs: number }>((resolve, reject) => {
  child.once('message', (m) => resolve(m as { records: number; sendMs: number }));
  child.once('exit', (code) => code && reject(new Error(`agents exited with ${code}`)));
});
const acceptedWall = (Date.now() - wall0) / 1000;
// Everything is in: join and write what is left.
await ingest.finalize(Date.now(), true);
const wall = (Date.now() - wall0) / 1000;
const usage = process.cpuUsage(cpu0);
const cpu = cpuSeconds(usage);
const counts = await hub.store.edges({ from: Date.now() - 3_600_000, to: Date.now() });
const mem = process.memoryUsage();
await hub.close();
rmSync(dir, { recursive: true, force: true });

lags.sort((a, b) => a - b);
console.log(`${fmt(pods)} pods on ${Math.round(pods / 100)} nodes, ${fmt(edges)} edges: ${fmt(sent.records)} side records in ${intervals} intervals (${fmt(sent.records / intervals)} per interval), TCP records as ${records ? 'JSON records' : json ? 'JSON columns' : 'frames'}\n`);
console.log(
  table([
    { measure: 'records per second, wall (accept + join + write)', value: fmt(sent.records / wall) },
    { measure: 'records per second accepted (HTTP, decode, check, inbox)', value: fmt(sent.records / acceptedWall) },
    { measure: 'hub CPU per record (all threads), µs', value: fmt((cpu / sent.records) * 1e6, 2) },
    { measure: 'records per hub CPU second', value: fmt(sent.records / cpu) },
    { measure: 'of which system (kernel) CPU per record, µs', value: fmt((usage.system / 1e6 / sent.records) * 1e6, 2) },
    { measure: 'lag arrival -> written, median ms', value: fmt(median(lags)) },
    { measure: 'lag arrival -> written, p99 ms', value: fmt(lags[Math.floor(lags.length * 0.99)] ?? NaN) },
    { measure: 'fine edges in the store', value: fmt(counts.length) },
    { measure: 'joined (both sides)', value: fmt(counts.filter((e) => e.sides[0] && e.sides[1]).length) },
    { measure: 'hub RSS MiB', value: fmt(mem.rss / 2 ** 20) },
  ]),
);
