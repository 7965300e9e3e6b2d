// A store with samples every 15 s written by the store itself (dictionaries from real ingest),
// rolled up into minutes and five-minute sums: what the store tests compare read paths on.
import pino from 'pino';
import { DuckStore, HOUR, MINUTE, type SampleRow } from '../../src/hub/store/duckdb.js';
import { Ingest, DEFAULT_INGEST } from '../../src/hub/ingest/pipeline.js';
import { HubMetrics } from '../../src/hub/metrics.js';
import { EmbeddedStore } from '../../src/hub/store/embedded.js';
import { cluster, hello, intervalBatches, rng } from '../../bench/hub-synthetic.js';

const log = pino({ level: 'silent' });
export const INTERVAL = 15_000;

/**
 * `minutes` of samples up to `end` (a minute) with `values(edge, side, k, intervals)` for interval
 * k of `intervals`; not every edge's server side in every interval (some sums come from fewer
 * rows). Rolled up and summed in fives.
 */
export async function filledStore(dir: string, end: number, minutes: number, values: (e: number, side: number, k: number, intervals: number) => Float64Array) {
  const duck = await DuckStore.open({ dataDir: dir, retentionMs: 24 * HOUR });
  duck.fivesPerMaintain = Infinity;
  const ingest = await Ingest.open(duck, new HubMetrics(), log, DEFAULT_INGEST);
  const c = cluster(60, 300);
  const start = end - minutes * MINUTE;
  await ingest.accept(Array.from({ length: c.nodes }, (_, n) => hello(c, n, INTERVAL)));
  for (const b of intervalBatches(c, 1, start - INTERVAL, start, rng(1))) await ingest.accept([b]);
  await ingest.finalize(start, true);
  const edges = ingest.edges.size;
  const intervals = (minutes * MINUTE) / INTERVAL;
  for (let k = 1; k <= intervals; k++) {
    const rows: SampleRow[] = [];
    for (let e = 0; e < edges; e++) for (const side of [0, 1]) if ((e + k) % 7 !== 0 || side === 0) rows.push({ t: start + k * INTERVAL, durMs: INTERVAL, edge: e, side, values: values(e, side, k, intervals) });
    await duck.write(rows, [], ingest.endpoints.list(), ingest.edges.values());
  }
  await duck.maintain(end, end);
  return { duck, ingest, store: new EmbeddedStore(duck, ingest, { log, now: () => end }), edges };
}
