// The embedded store as the query API sees it: DuckDB's totals and series, named with the
// ingest's dictionaries (which it keeps in memory and in the database).
import type { Logger } from 'pino';
import { edgeTotalsOf, selectFine, type FineTotals } from '../graph/fine-totals.js';
import type { Ingest } from '../ingest/pipeline.js';
import { LiveWindows, DEFAULT_LIVE_WINDOWS_MS } from '../live/live.js';
import type { DuckStore, WindowRows } from './duckdb.js';
import type { EdgeTotals, GraphStore, KnownEdges, KnownEndpoint, ResolvedEdge, SeriesPoint, Window } from './store.js';

export interface EmbeddedOptions {
  /** Window lengths kept in memory (ms; default the last 5 minutes and the last hour). */
  liveWindowsMs?: number[];
  now?: () => number;
  log: Logger;
}

/** Where the last answer came from (for the hub's metrics and the benchmark). */
export type AnswerSource = 'live' | 'store';

/** Past this many selected edges, reading all is cheaper than a list in the query. */
const MAX_SELECTED = 20_000;

export class EmbeddedStore implements GraphStore {
  readonly kind = 'embedded' as const;
  private readonly resolved: Array<ResolvedEdge | undefined> = [];
  readonly live: LiveWindows;
  /** Counts answers by where they came from. */
  readonly answers: Record<AnswerSource, number> = { live: 0, store: 0 };

  constructor(
    readonly duck: DuckStore,
    readonly ingest: Ingest,
    o: EmbeddedOptions,
  ) {
    this.live = new LiveWindows(duck, (id) => this.resolvedEdge(id), { lengthsMs: o.liveWindowsMs ?? DEFAULT_LIVE_WINDOWS_MS, now: o.now ?? Date.now, log: o.log });
  }

  /** Loads the live windows (queries read the store until they are). */
  start(): Promise<void> {
    return this.live.start();
  }

  get retentionMs(): number {
    return this.duck.options.retentionMs;
  }

  resolvedEdge(id: number): ResolvedEdge {
    let e = this.resolved[id];
    if (!e) {
      // Filled up to id first: an array written far past its end becomes a dictionary (slow to read).
      while (this.resolved.length < id) this.resolved.push(undefined);
      const f = this.ingest.edge(id);
      e = { key: String(id), id, client: this.ingest.endpoint(f.client), server: this.ingest.endpoint(f.server), port: f.port, protocol: f.protocol };
      this.resolved[id] = e;
    }
    return e;
  }

  async fine(window: Window, select?: (e: ResolvedEdge) => boolean): Promise<FineTotals> {
    const live = await this.live.totals(window);
    if (live) {
      this.answers.live++;
      return select ? selectFine(live.totals, select) : live.totals;
    }
    this.answers.store++;
    const ids = this.selectIds(select);
    const rows: WindowRows = ids ? await this.duck.totalsTable(window, ids).then((table) => ({ table, release: () => table.recycle() })) : await this.duck.windowRows(window);
    const fine = this.fineOfRows(rows);
    return select && !ids ? selectFine(fine, select) : fine;
  }

  /** Fine totals over the store's rows (one array, no object per edge). */
  private fineOfRows({ table, release }: WindowRows): FineTotals {
    // Rows come per (edge, side): pair them up by edge, in the order first met.
    const order: number[] = [];
    let rowOf = new Int32Array(1024).fill(-1);
    for (let r = 0; r < table.size; r++) {
      const e = table.edges[r]!;
      if (2 * e + 1 >= rowOf.length) {
        const grown = new Int32Array(Math.max(2 * e + 2, rowOf.length * 2)).fill(-1);
        grown.set(rowOf);
        rowOf = grown;
      }
      if (rowOf[2 * e] === -1 && rowOf[2 * e + 1] === -1) order.push(e);
      rowOf[2 * e + (table.sides[r] === 0 ? 0 : 1)] = r * table.stride;
    }
    return {
      size: order.length,
      forEach: (visit) => {
        for (const e of order) visit(this.resolvedEdge(e), table.values, rowOf[2 * e]!, table.values, rowOf[2 * e + 1]!);
      },
      forEachId: (visit) => {
        for (const e of order) visit(e, table.values, rowOf[2 * e]!, table.values, rowOf[2 * e + 1]!);
      },
      release,
    };
  }

  /** The ids `select` keeps, when few enough to read only those. */
  private selectIds(select?: (e: ResolvedEdge) => boolean): number[] | undefined {
    if (!select) return undefined;
    // The dictionary is in memory: choose the fine edges first, then read only theirs.
    const ids: number[] = [];
    for (const f of this.ingest.edges.values()) if (select(this.resolvedEdge(f.id))) ids.push(f.id);
    return ids.length > MAX_SELECTED ? undefined : ids;
  }

  async edges(window: Window, select?: (e: ResolvedEdge) => boolean): Promise<EdgeTotals[]> {
    const live = await this.live.totals(window);
    if (live) {
      this.answers.live++;
      return edgeTotalsOf(live.totals, select);
    }
    this.answers.store++;
    const ids = this.selectIds(select);
    const out: EdgeTotals[] = [];
    for (const [id, sides] of await this.duck.totals(window, ids)) {
      const edge = this.resolvedEdge(id);
      if (!select || ids || select(edge)) out.push({ edge, sides });
    }
    return out;
  }

  known(): KnownEdges {
    const list = this.ingest.edges.values();
    return { size: list.length, edge: (id) => (list[id] ? this.resolvedEdge(id) : undefined) };
  }

  async series(window: Window, stepMs: number, keys: ReadonlySet<string>): Promise<SeriesPoint[]> {
    const ids = [...keys].map(Number).filter((n) => Number.isInteger(n));
    const byStep = await this.duck.series(window, stepMs, ids);
    return [...byStep].sort((a, b) => a[0] - b[0]).map(([t, sides]) => ({ t, sides }));
  }

  async endpoints(): Promise<KnownEndpoint[]> {
    const since = Date.now() - this.retentionMs;
    const addrs = this.ingest.addressesByEndpoint();
    const out: KnownEndpoint[] = [];
    for (const [id, endpoint] of this.ingest.endpoints.entries()) {
      if ((this.ingest.endpointSeen[id] ?? 0) < since) continue;
      const a = addrs.get(id) ?? new Set<string>();
      if (endpoint.addr) a.add(endpoint.addr);
      out.push({ endpoint, addrs: [...a] });
    }
    return out;
  }

  async close(): Promise<void> {
    this.live.close();
    await this.duck.close();
  }
}
