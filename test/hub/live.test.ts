// The live windows against the store: the totals a query gets from memory equal what DuckDB's
// history holds for the same window, edge by edge and counter by counter, as samples arrive (in
// order and late) and as the windows' starts move on; windows they do not cover go to the store.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { DuckStore, MINUTE, type SampleRow } from '../../src/hub/store/duckdb.js';
import { Ingest, DEFAULT_INGEST } from '../../src/hub/ingest/pipeline.js';
import { HubMetrics } from '../../src/hub/metrics.js';
import { EmbeddedStore } from '../../src/hub/store/embedded.js';
import { C, WIDTH, newSide, sideCopy } from '../../src/hub/graph/counters.js';
import { REQUEST_BUCKETS } from '../../src/model/requests.js';
import { processEndpoint } from '../../src/hub/graph/endpoint.js';
import type { FineTotals } from '../../src/hub/graph/fine-totals.js';
import type { Window } from '../../src/hub/store/store.js';

const log = pino({ level: 'silent' });

function snapshot(fine: FineTotals): Map<string, number[]> {
  const out = new Map<string, number[]>();
  fine.forEach((e, c, ca, s, sa) => {
    // Rows as a side of their own (a narrow row of the live windows has no request columns).
    if (ca >= 0) out.set(`${e.key}/client`, Array.from(sideCopy(c, ca)));
    if (sa >= 0) out.set(`${e.key}/server`, Array.from(sideCopy(s, sa)));
  });
  return out;
}

function assertSame(live: Map<string, number[]>, store: Map<string, number[]>, what: string): void {
  assert.deepEqual([...live.keys()].sort(), [...store.keys()].sort(), `${what}: the same edge sides`);
  for (const [k, a] of live) {
    const b = store.get(k)!;
    for (let i = 0; i < WIDTH; i++) assert.ok(Math.abs(a[i]! - b[i]!) < 1e-6, `${what}: ${k} column ${i}: live ${a.join(",")} store ${b.join(",")}`);
  }
}

test('live windows answer as the store would, as samples come (late ones too) and the windows move on', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fs-hub-live-'));
  let clock = Math.floor(Date.now() / MINUTE) * MINUTE;
  const duck = await DuckStore.open({ dataDir: dir, retentionMs: 24 * 3_600_000 });
  const ingest = await Ingest.open(duck, new HubMetrics(), log, DEFAULT_INGEST);
  const store = new EmbeddedStore(duck, ingest, { log, now: () => clock, liveWindowsMs: [5 * MINUTE, 30 * MINUTE] });
  try {
    // Twenty fine edges between a few processes.
    const ends = Array.from({ length: 6 }, (_, i) => ingest.endpoints.intern(processEndpoint(`node-${i % 3}`, 'z', `p${i}`, '', { workload: `w${i}` })));
    const edges = Array.from({ length: 20 }, (_, i) => ingest.edges.intern(ends[i % 6]!, ends[(i * 5 + 1) % 6]!, 8000 + i).id);
    let seed = 7;
    const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const sample = (t: number, edge: number, side: number): SampleRow => {
      const v = newSide();
      v[C.opened] = Math.floor(random() * 10);
      v[C.active] = Math.floor(random() * 5);
      v[C.bytesSent] = Math.floor(random() * 1e6);
      v[C.failures + 1] = random() < 0.3 ? 1 : 0;
      v[C.rtt + 3] = Math.floor(random() * 4);
      v[C.rtt + 15] = v[C.rtt + 3]! * 0.0007;
      v[C.rtt + 16] = v[C.rtt + 3]!;
      // Requests on every fourth edge, in some of its samples (those rows are held wide, the rest narrow).
      if (edge % 4 === 0 && random() < 0.5) {
        const q = 1 + Math.floor(random() * 20);
        v[C.requests] = q;
        v[C.requestErrors] = q > 15 ? 1 : 0;
        v[C.statuses + 1] = q - v[C.requestErrors]!;
        v[C.statuses + 4] = v[C.requestErrors]!;
        v[C.request + 2] = q;
        v[C.request + REQUEST_BUCKETS.length] = q * 0.004;
        v[C.request + REQUEST_BUCKETS.length + 1] = q;
      }
      return { t, durMs: 10_000, edge, side, values: v };
    };
    const interval = async (t: number, share = 1): Promise<void> => {
      const rows: SampleRow[] = [];
      for (const e of edges) for (const side of [0, 1]) if (random() < share) rows.push(sample(t, e, side));
      await duck.write(rows, [], ingest.endpoints.list(), ingest.edges.values());
    };
    // Ten minutes of history before the live windows load (a hub restarting on its data).
    const t0 = clock - 10 * MINUTE;
    for (let t = t0 + 10_000; t <= clock; t += 10_000) await interval(t, 0.7);
    await store.start();
    const compare = async (w: Window, what: string, expect: 'live' | 'store'): Promise<void> => {
      const before = { ...store.answers };
      const live = snapshot(await store.fine(w));
      assert.equal(store.answers[expect] - before[expect], 1, `${what}: answered from ${expect}`);
      const byStore = new Map<string, number[]>();
      for (const [id, [c, s]] of await duck.totals(w)) {
        if (c) byStore.set(`${id}/client`, Array.from(c));
        if (s) byStore.set(`${id}/server`, Array.from(s));
      }
      assertSame(live, byStore, what);
    };
    await compare({ from: clock - 5 * MINUTE, to: clock }, 'the last 5 minutes', 'live');
    await compare({ from: clock - 30 * MINUTE, to: clock }, 'the last 30 minutes', 'live');
    // A query starting a few samples after the window: those are read back and subtracted.
    await compare({ from: clock - 5 * MINUTE + 25_000, to: clock + 1000 }, 'starting 25 s later', 'live');
    // Ending before the newest samples, or starting before the window: the store answers.
    await compare({ from: clock - 5 * MINUTE, to: clock - MINUTE }, 'ending a minute ago', 'store');
    await compare({ from: clock - 8 * MINUTE, to: clock - 2 * MINUTE }, 'an older window', 'store');
    // Time moves on: new samples, a late one inside the windows, and the starts move past old ones.
    for (let k = 0; k < 12; k++) {
      clock += 10_000;
      await interval(clock, 0.8);
      if (k === 5) await interval(clock - 3 * MINUTE + 5000, 0.5);
      await store.live.tick();
    }
    await compare({ from: clock - 5 * MINUTE, to: clock }, 'the last 5 minutes, two minutes later', 'live');
    await compare({ from: clock - 30 * MINUTE, to: clock }, 'the last 30 minutes, two minutes later', 'live');
    // Everything of an edge side gone from the window: it is not in the answer (no zero rows).
    clock += 6 * MINUTE;
    await store.live.tick();
    const empty = await store.fine({ from: clock - 5 * MINUTE, to: clock });
    assert.equal(empty.size, 0, 'nothing in the last 5 minutes after six quiet minutes');
    await compare({ from: clock - 30 * MINUTE, to: clock }, 'the last 30 minutes after a quiet spell', 'live');
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
