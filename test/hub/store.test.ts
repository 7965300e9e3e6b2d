// The embedded store with the ingest: batches applied once, joined, written to DuckDB, rolled up
// to minutes and exported to Parquet; a restart keeps what was accepted.
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
import { C, COLUMNS, newSide } from '../../src/hub/graph/counters.js';
import { wire } from '../../src/model/index.js';
import { batch, hello, tcp, type AgentRun } from './batches.js';

const log = pino({ level: 'silent' });

async function openHub(dir: string) {
  const duck = await DuckStore.open({ dataDir: dir, retentionMs: 24 * HOUR });
  const ingest = await Ingest.open(duck, new HubMetrics(), log, DEFAULT_INGEST);
  return { duck, ingest, store: new EmbeddedStore(duck, ingest, { log }) };
}

const start = new Date(Date.now() - 10 * MINUTE).toISOString();
const client: AgentRun = { agent: 'node-a', node: 'node-a', zone: 'z1', start };
const server: AgentRun = { agent: 'node-b', node: 'node-b', zone: 'z2', start };

type Form = (b: wire.BatchV1) => wire.BatchV1;
/** Batches as agents send them: TCP records as columns (read back from their JSON, without `tcp`, or from a frame: typed arrays), or as records. */
const FORMS: Record<string, Form> = {
  records: (b) => b,
  columns: (b) => JSON.parse(JSON.stringify(wire.columnarBatch(b))) as wire.BatchV1,
  frames: (b) => wire.frameMessage(wire.decodeFrames(wire.encodeFrame(wire.columnarBatch(b)))[0]!) as wire.BatchV1,
};

function pair(seq: number, t: number, opened: number, form: Form = FORMS.records!) {
  return [
    batch(client, seq, t - 1000, t, [tcp({ role: 'client', process: 'curl', peer: '10.0.0.2', port: 80, local_addrs: ['10.0.0.1'], opened, closed: opened, bytes_sent: 100 * opened })]),
    batch(server, seq, t - 1000, t, [tcp({ role: 'server', process: 'nginx', peer: '10.0.0.1', port: 80, local_addrs: ['10.0.0.2'], opened, closed: opened, bytes_received: 100 * opened })]),
  ].map(form);
}

for (const [name, form] of Object.entries(FORMS)) test(`batches (TCP records as ${name}) are applied once, joined into one edge with both sides, and survive a restart`, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fs-hub-store-'));
  try {
    let hub = await openHub(dir);
    const t0 = Date.now() - 5 * MINUTE;
    const unknown = await hub.ingest.accept(pair(1, t0, 1, form));
    assert.equal(unknown.applied, 0);
    assert.equal(unknown.unknownRuns.length, 2, 'batches of runs without hello are refused until hello');
    await hub.ingest.accept([hello(client), hello(server)]);
    let r = await hub.ingest.accept([...pair(1, t0, 3, form), ...pair(2, t0 + 1000, 4, form)]);
    assert.equal(r.applied, 4);
    // A resend after a lost answer changes nothing.
    r = await hub.ingest.accept(pair(2, t0 + 1000, 4, form));
    assert.equal(r.applied, 0);
    assert.equal(r.duplicates, 2);
    assert.equal(await hub.ingest.finalize(Date.now(), true), 4);
    const window = { from: t0 - 60_000, to: Date.now() };
    const edges = await hub.store.edges(window);
    assert.equal(edges.length, 1, 'client and server views are one edge');
    const [e] = edges;
    assert.equal(e!.edge.client.process, 'curl');
    assert.equal(e!.edge.server.process, 'nginx');
    assert.equal(e!.edge.server.zone, 'z2');
    assert.equal(e!.sides[0]![C.opened], 7);
    assert.equal(e!.sides[1]![C.opened], 7);
    // Accepted but not joined yet when the hub stops: the inbox keeps it.
    await hub.ingest.accept(pair(3, t0 + 2000, 5, form));
    await hub.ingest.saveClaims();
    await hub.duck.close();

    hub = await openHub(dir);
    r = await hub.ingest.accept(pair(3, t0 + 2000, 5, form));
    assert.equal(r.duplicates, 2, 'the runs remember what was applied across a restart');
    assert.equal(hub.ingest.pendingBatches, 2, 'the inbox is replayed');
    await hub.ingest.finalize(Date.now(), true);
    const after = await hub.store.edges(window);
    assert.equal(after.length, 1, 'the dictionaries survive: the same edge');
    assert.equal(after[0]!.sides[0]![C.opened], 12);
    assert.equal(after[0]!.sides[1]![C.opened], 12);
    await hub.duck.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('finished minutes roll up and finished hours go to Parquet that DuckDB reads back', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fs-hub-parquet-'));
  try {
    const hub = await openHub(dir);
    const old: AgentRun = { ...client, start: new Date(Date.now() - 5 * HOUR).toISOString() };
    const oldServer: AgentRun = { ...server, start: old.start };
    await hub.ingest.accept([hello(old), hello(oldServer)]);
    const base = Math.floor((Date.now() - 3 * HOUR) / HOUR) * HOUR;
    const messages = [];
    // One batch per agent every 10 s for 70 minutes.
    for (let i = 1; i <= 420; i++) {
      const t = base + i * 10_000;
      messages.push(
        batch(old, i, t - 10_000, t, [tcp({ role: 'client', process: 'curl', peer: '10.0.0.2', port: 80, local_addrs: ['10.0.0.1'], opened: 2, closed: 2 })]),
        batch(oldServer, i, t - 10_000, t, [tcp({ role: 'server', process: 'nginx', peer: '10.0.0.1', port: 80, local_addrs: ['10.0.0.2'], opened: 2, closed: 2 })]),
      );
    }
    await hub.ingest.accept(messages);
    await hub.ingest.finalize(Date.now(), true);
    const result = await hub.duck.maintain(Date.now(), hub.ingest.finalTo(Date.now()));
    assert.equal(result.exported.length, 1, 'the one finished hour is exported');
    const counts = await hub.duck.rowCounts();
    assert.equal(counts.minutes, 70 * 2, 'one row per minute and side');
    assert.equal(counts.samples, 10 * 6 * 2, 'the exported hour left the samples table (it is older than an hour)');
    // The whole range from minutes and samples: every connection once.
    const all = await hub.store.edges({ from: base, to: base + 71 * MINUTE });
    assert.equal(all[0]!.sides[0]![C.opened], 840);
    // A window inside the exported hour comes from minutes, snapped to whole minutes.
    const inside = await hub.store.edges({ from: base + 10 * MINUTE, to: base + 20 * MINUTE });
    assert.equal(inside[0]!.sides[0]![C.opened], 120);
    const parquet = join(hub.duck.parquetDir, readdirSync(hub.duck.parquetDir)[0]!);
    const db = await DuckDBInstance.create(':memory:');
    const conn = await db.connect();
    const rows = (await conn.runAndReadAll(`SELECT side, client_process, server_process, server_zone, sum(opened) FROM '${parquet}' GROUP BY ALL ORDER BY side`)).getRows();
    assert.deepEqual(
      rows.map((r) => r.map(String)),
      [
        ['client', 'curl', 'nginx', 'z2', '720'],
        ['server', 'curl', 'nginx', 'z2', '720'],
      ],
    );
    conn.closeSync();
    db.closeSync();
    const series = await hub.store.series({ from: base, to: base + 60 * MINUTE }, 15 * MINUTE, new Set([all[0]!.edge.key]));
    assert.deepEqual(
      series.map((p) => p.sides[0]![C.opened]),
      [180, 180, 180, 180],
    );
    await hub.duck.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('samples written with one column per bucket (before pairs) are moved into pairs on open, counted the same', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fs-hub-migrate-'));
  try {
    // The old layout, as a hub of the previous version left it (before requests, too).
    const old = COLUMNS.slice(0, C.requests);
    const cols = old.map((c) => `${c} DOUBLE`).join(', ');
    const db = await DuckDBInstance.create(join(dir, 'flowscope.duckdb'));
    const conn = await db.connect();
    await conn.run(`CREATE TABLE samples (t BIGINT, dur INTEGER, edge INTEGER, side TINYINT, ${cols})`);
    await conn.run(`CREATE TABLE minutes (t BIGINT, edge INTEGER, side TINYINT, ${cols})`);
    const t0 = Math.floor(Date.now() / MINUTE) * MINUTE - 10 * MINUTE;
    const expected = newSide();
    for (let k = 1; k <= 6; k++) {
      const v = newSide();
      v[C.opened] = k;
      v[C.active] = k;
      v[C.connect + 2] = k;
      v[C.connect + 16] = k * 0.0004;
      v[C.connect + 17] = k;
      v[C.rtt + 5] = 2 * k;
      v[C.rtt + 15] = 2 * k * 0.003;
      v[C.rtt + 16] = 2 * k;
      for (let i = 0; i < v.length; i++) expected[i] = i === C.active ? k : expected[i]! + v[i]!;
      await conn.run(`INSERT INTO samples VALUES (${t0 + k * 10_000}, 10000, 0, 0, ${Array.from(v.subarray(0, old.length)).join(', ')})`);
      await conn.run(`INSERT INTO minutes VALUES (${t0 + MINUTE}, 0, 0, ${Array.from(v.subarray(0, old.length)).join(', ')})`);
    }
    conn.closeSync();
    db.closeSync();
    const duck = await DuckStore.open({ dataDir: dir, retentionMs: 24 * HOUR });
    try {
      const totals = await duck.totals({ from: t0, to: t0 + MINUTE });
      const got = totals.get(0)![0]!;
      for (let i = 0; i < got.length; i++) assert.ok(Math.abs(got[i]! - expected[i]!) < 1e-9, `column ${COLUMNS[i]}: ${got[i]} against ${expected[i]} as before`);
      const r = await duck.connect();
      const hist = (await r.runAndReadAll('SELECT count(*) FROM samples_hist')).getRows()[0]![0];
      assert.equal(Number(hist), 12, 'two buckets hit per row: two pairs');
      const dense = (await r.runAndReadAll(`SELECT count(*) FROM information_schema.columns WHERE table_name = 'samples'`)).getRows()[0]![0];
      assert.equal(Number(dense), 4 + 17 + 4, 'samples keep 17 counters as columns, and 4 of requests');
      r.closeSync();
    } finally {
      await duck.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
