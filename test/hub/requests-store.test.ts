// Requests in the embedded store: a data directory of the previous layout (no request columns) is
// opened, gets its columns (ALTER TABLE), keeps what it held, and takes batches with requests; the
// sums, the per-step series, the minute roll-ups and the Parquet files carry them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { DuckDBInstance } from '@duckdb/node-api';
import { DuckStore, HOUR, MINUTE } from '../../src/hub/store/duckdb.js';
import { Ingest, DEFAULT_INGEST } from '../../src/hub/ingest/pipeline.js';
import { HubMetrics } from '../../src/hub/metrics.js';
import { EmbeddedStore } from '../../src/hub/store/embedded.js';
import { C, REQUEST_STATUSES } from '../../src/hub/graph/counters.js';
import { REQUEST_DENSE_NAMES } from '../../src/hub/store/layout.js';
import { REQUEST_BUCKETS } from '../../src/model/requests.js';
import { batch, hello, tcp, type AgentRun } from './batches.js';
import type { wire } from '../../src/model/index.js';

const log = pino({ level: 'silent' });

async function openHub(dir: string) {
  const duck = await DuckStore.open({ dataDir: dir, retentionMs: 24 * HOUR });
  const ingest = await Ingest.open(duck, new HubMetrics(), log, DEFAULT_INGEST);
  return { duck, ingest, store: new EmbeddedStore(duck, ingest, { log }) };
}

async function sql(dir: string, statements: string[]): Promise<string[][]> {
  const db = await DuckDBInstance.create(join(dir, 'flowscope.duckdb'));
  const conn = await db.connect();
  let rows: string[][] = [];
  for (const s of statements) rows = (await conn.runAndReadAll(s)).getRows().map((r) => r.map(String));
  conn.closeSync();
  db.closeSync();
  return rows;
}

const start = new Date(Date.now() - 5 * HOUR).toISOString();
const client: AgentRun = { agent: 'node-a', node: 'node-a', zone: 'z1', start };
const server: AgentRun = { agent: 'node-b', node: 'node-b', zone: 'z2', start };
/** Per 10 s: 6 requests, 4 answered 2xx, one 404, one 503; durations in the 5-10 ms bucket. */
const REQUESTS: wire.RequestsV1 = { count: 6, errors: 1, by_status: { '2xx': 4, '4xx': 1, '5xx': 1 }, duration: { counts: REQUEST_BUCKETS.map((b) => (b === 0.01 ? 6 : 0)), sum: 6 * 0.007, count: 6 } };

function pair(seq: number, t: number, requests: boolean) {
  const r = requests ? { requests: REQUESTS } : {};
  return [
    batch(client, seq, t - 10_000, t, [tcp({ role: 'client', process: 'curl', peer: '10.0.0.2', port: 80, local_addrs: ['10.0.0.1'], opened: 1, closed: 1, ...r })]),
    batch(server, seq, t - 10_000, t, [tcp({ role: 'server', process: 'nginx', peer: '10.0.0.1', port: 80, local_addrs: ['10.0.0.2'], opened: 1, closed: 1, ...r })]),
  ];
}

test('a store of the layout before requests opens with their columns added, keeps its rows, and stores, rolls up and exports requests', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fs-hub-reqstore-'));
  try {
    const base = Math.floor((Date.now() - 3 * HOUR) / HOUR) * HOUR;
    // 1. The previous version's directory: 30 minutes of traffic without requests, in tables
    // without the request columns (as the previous version created them).
    let hub = await openHub(dir);
    await hub.ingest.accept([hello(client, 10_000), hello(server, 10_000)]);
    for (let i = 1; i <= 180; i++) await hub.ingest.accept(pair(i, base + i * 10_000, false));
    await hub.ingest.finalize(Date.now(), true);
    await hub.ingest.saveClaims();
    await hub.duck.close();
    const drop = ['samples', 'minutes'].flatMap((t) => REQUEST_DENSE_NAMES.map((c) => `ALTER TABLE ${t} DROP COLUMN ${c}`));
    const before = await sql(dir, [...drop, `SELECT count(*) FROM information_schema.columns WHERE table_name = 'samples' AND column_name LIKE 'request%'`]);
    assert.deepEqual(before, [['0']], 'the old layout: no request columns');

    // 2. This version opens it: the columns are added, the old rows read as before (no requests).
    hub = await openHub(dir);
    const old = await hub.store.edges({ from: base, to: base + 30 * MINUTE });
    assert.equal(old.length, 1);
    assert.equal(old[0]!.sides[0]![C.opened], 180);
    assert.equal(old[0]!.sides[0]![C.requests], 0);

    // 3. 40 more minutes, with requests: written after the old rows, into the same tables.
    for (let i = 181; i <= 420; i++) await hub.ingest.accept(pair(i, base + i * 10_000, true));
    await hub.ingest.finalize(Date.now(), true);
    const all = await hub.store.edges({ from: base, to: base + 71 * MINUTE });
    assert.equal(all.length, 1, 'the same edge');
    const [c, s] = all[0]!.sides;
    assert.equal(c![C.opened], 420);
    for (const side of [c!, s!]) {
      assert.equal(side[C.requests], 240 * 6);
      assert.equal(side[C.requestErrors], 240);
      assert.equal(side[C.statuses + REQUEST_STATUSES.indexOf('2xx')], 240 * 4);
      assert.equal(side[C.statuses + REQUEST_STATUSES.indexOf('4xx')], 240);
      assert.equal(side[C.statuses + REQUEST_STATUSES.indexOf('5xx')], 240);
      assert.equal(side[C.request + REQUEST_BUCKETS.indexOf(0.01)], 240 * 6);
      assert.equal(side[C.request + REQUEST_BUCKETS.length + 1], 240 * 6, 'duration count');
    }
    const series = await hub.store.series({ from: base, to: base + 60 * MINUTE }, 15 * MINUTE, new Set([all[0]!.edge.key]));
    assert.deepEqual(
      series.map((p) => p.sides[0]![C.requests]),
      [0, 0, 90 * 6, 90 * 6],
      'per step: none before the switch (minute 30), 6 per 10 s after',
    );

    // 4. Roll-ups and Parquet: the finished hour's file has the request columns.
    const result = await hub.duck.maintain(Date.now(), hub.ingest.finalTo(Date.now()));
    assert.equal(result.exported.length, 1);
    const inMinutes = await hub.store.edges({ from: base + 40 * MINUTE, to: base + 50 * MINUTE });
    assert.equal(inMinutes[0]!.sides[1]![C.statuses + REQUEST_STATUSES.indexOf('5xx')], 60, 'from the minute roll-ups');
    await hub.duck.close();
    const parquet = join(dir, 'parquet', readdirSync(join(dir, 'parquet'))[0]!);
    const db = await DuckDBInstance.create(':memory:');
    const conn = await db.connect();
    const rows = (await conn.runAndReadAll(`SELECT side, sum(opened), sum(requests), sum(request_errors), sum(requests_2xx), sum(requests_4xx), sum(requests_5xx), sum(request_b${REQUEST_BUCKETS.indexOf(0.01)}), sum(requests_grpc_unavailable) FROM '${parquet}' GROUP BY side ORDER BY side`)).getRows();
    // The hour holds minutes 0-60: 30 minutes without requests, 30 with (180 batches of 6).
    assert.deepEqual(
      rows.map((r) => r.map(String)),
      ['client', 'server'].map((side) => [side, '360', '1080', '180', '720', '180', '180', '1080', '0']),
    );
    conn.closeSync();
    db.closeSync();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
