// The embedded store as the query API sees it: DuckDB's totals and series, named with the
// ingest's dictionaries (which it keeps in memory and in the database).
import type { Ingest } from '../ingest/pipeline.js';
import type { DuckStore } from './duckdb.js';
import type { EdgeTotals, GraphStore, KnownEndpoint, ResolvedEdge, SeriesPoint, Window } from './store.js';

/** Past this many selected edges, reading all is cheaper than a list in the query. */
const MAX_SELECTED = 20_000;

export class EmbeddedStore implements GraphStore {
  readonly kind = 'embedded' as const;
  private readonly resolved: ResolvedEdge[] = [];

  constructor(
    readonly duck: DuckStore,
    readonly ingest: Ingest,
  ) {}

  get retentionMs(): number {
    return this.duck.options.retentionMs;
  }

  resolvedEdge(id: number): ResolvedEdge {
    let e = this.resolved[id];
    if (!e) {
      const f = this.ingest.edge(id);
      e = { key: String(id), client: this.ingest.endpoint(f.client), server: this.ingest.endpoint(f.server), port: f.port, protocol: f.protocol };
      this.resolved[id] = e;
    }
    return e;
  }

  async edges(window: Window, select?: (e: ResolvedEdge) => boolean): Promise<EdgeTotals[]> {
    let ids: number[] | undefined;
    if (select) {
      // The dictionary is in memory: choose the fine edges first, then read only theirs.
      ids = [];
      for (const f of this.ingest.edges.values()) if (select(this.resolvedEdge(f.id))) ids.push(f.id);
      if (ids.length > MAX_SELECTED) ids = undefined;
    }
    const totals = await this.duck.totals(window, ids);
    const out: EdgeTotals[] = [];
    for (const [id, sides] of totals) {
      const edge = this.resolvedEdge(id);
      if (!select || ids || select(edge)) out.push({ edge, sides });
    }
    return out;
  }

  *known(): Iterable<ResolvedEdge> {
    for (const f of this.ingest.edges.values()) yield this.resolvedEdge(f.id);
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
    await this.duck.close();
  }
}
