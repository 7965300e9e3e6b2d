// What the query API needs from storage, met by the embedded store (DuckDB, fed by agents) and by
// the Prometheus-compatible one (PromQL over what a Prometheus scraped from the agents).
import type { Side } from '../graph/counters.js';
import type { Protocol } from '../graph/edges.js';
import type { Endpoint } from '../graph/endpoint.js';

/** A time window, ms since the epoch: samples with from < t <= to. */
export interface Window {
  from: number;
  to: number;
}

/** A fine edge with its ends resolved. */
/** Visits one fine edge of a window's totals: a side is absent when its offset is -1. */
export type FineVisitor = (edge: ResolvedEdge, client: Float64Array, clientAt: number, server: Float64Array, serverAt: number) => void;

export type FineIdVisitor = (id: number, client: Float64Array, clientAt: number, server: Float64Array, serverAt: number) => void;

/**
 * A window's totals per fine edge without an object per edge: each fine edge with traffic, and its
 * sides' counters as (array, offset) pairs into the store's own arrays (helpers in graph/fine-totals.ts).
 */
export interface FineTotals {
  /** Fine edges with traffic in the window. */
  readonly size: number;
  forEach(visit: FineVisitor): void;
  /** The same visit in the same order with each edge's id (ResolvedEdge.id) for the edge, where the store has ids: no edge object to fetch. */
  forEachId?(visit: FineIdVisitor): void;
  /** Gives the store its arrays back for reuse (where it reuses them): nothing may read the totals, nor rows handed out by forEach, after. */
  release?(): void;
}

/** The fine edges a store has numbered, by id from 0 to size - 1 (they only grow: indexes read only the new ones). */
export interface KnownEdges {
  readonly size: number;
  /** The edge with this id (undefined for an id the store skipped). */
  edge(id: number): ResolvedEdge | undefined;
}

export interface ResolvedEdge {
  /** Stable for the store's life: what series() selects by. */
  readonly key: string;
  /** A small integer, stable for the store's life, when the store numbers its edges (what view indexes use). */
  readonly id?: number;
  readonly client: Endpoint;
  readonly server: Endpoint;
  readonly port: number;
  readonly protocol: Protocol;
}

/** A fine edge's counters over a window: the client's view and the server's (absent when that side did not report). */
export interface EdgeTotals {
  readonly edge: ResolvedEdge;
  readonly sides: readonly [Side | undefined, Side | undefined];
}

/** The selected edges' counters summed per step. */
export interface SeriesPoint {
  /** The step's end, ms. */
  t: number;
  sides: [Side | undefined, Side | undefined];
}

export interface KnownEndpoint {
  endpoint: Endpoint;
  /** Addresses it held (its own, or the one it was reached at). */
  addrs: string[];
}

export interface GraphStore {
  readonly kind: 'embedded' | 'prometheus';
  /** How far back queries may reach (ms). */
  readonly retentionMs: number;
  /** The window's edges with traffic; with `select`, only those it keeps (a store may use it to read less). */
  edges(window: Window, select?: (e: ResolvedEdge) => boolean): Promise<EdgeTotals[]>;
  /**
   * The same without an object per edge (what the graph is built from); with `select`, a store
   * may read only those. Use the answer before awaiting anything else: it may read live state.
   */
  fine(window: Window, select?: (e: ResolvedEdge) => boolean): Promise<FineTotals>;
  /** Every fine edge the store knows (whatever the window), when it can tell cheaply; else undefined. */
  known(): KnownEdges | undefined;
  series(window: Window, stepMs: number, keys: ReadonlySet<string>): Promise<SeriesPoint[]>;
  /** Every endpoint seen within the retention, with its addresses (for search). */
  endpoints(): Promise<KnownEndpoint[]>;
  close(): Promise<void>;
}
