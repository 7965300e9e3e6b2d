// The live graph: per fine edge and side, the totals of the recent windows (by default the last
// 5 minutes and the last hour) kept in memory as samples are written, and their starts moved
// forward every quarter of a second (the samples they pass are read back from the store and
// subtracted). A query for a window that starts at (or just after) one of them and reaches the
// newest samples is answered from memory; anything else goes to the store's history.
import type { Logger } from 'pino';
import { C, NARROW, WIDTH, isNarrow } from '../graph/counters.js';
import type { FineTotals, FineVisitor } from '../graph/fine-totals.js';
import type { SampleBlock } from '../graph/sample-block.js';
import type { DuckStore } from '../store/duckdb.js';
import type { ResolvedEdge, Window } from '../store/store.js';
import { SlidingWindow } from './window.js';

export interface LiveOptions {
  /** Window lengths kept in memory (ms). */
  lengthsMs: number[];
  now: () => number;
  /** How often the starts move (ms). */
  tickMs?: number;
  /** A query may start after a window's start by this many sample rows at most (read back and subtracted). */
  maxAdjustRows?: number;
  log: Logger;
}

export const DEFAULT_LIVE_WINDOWS_MS = [5 * 60_000, 60 * 60_000];

const NONE = new Float64Array(0);

export interface LiveAnswer {
  totals: FineTotals;
  /** The window length that answered. */
  lengthMs: number;
  /** Sample rows read back to start the answer later than the window. */
  adjustedRows: number;
}

/** Sums of WIDTH columns per row (edge * 2 + side) in one growing array (no array per row), and their sample counts. */
class RowSums {
  values = new Float64Array(64 * WIDTH);
  rows: number[] = [];
  /** Row to its offset in `values`. */
  readonly offsets = new Map<number, number>();

  /** The row's offset, zeros when new. */
  at(row: number): number {
    let at = this.offsets.get(row);
    if (at === undefined) {
      at = this.rows.length * WIDTH;
      this.rows.push(0);
      if (at + WIDTH > this.values.length) {
        const values = new Float64Array(this.values.length * 2);
        values.set(this.values);
        this.values = values;
      }
      this.offsets.set(row, at);
    }
    return at;
  }
}

export class LiveWindows {
  readonly windows: SlidingWindow[];
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private ticking: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly duck: DuckStore,
    private readonly resolve: (edge: number) => ResolvedEdge,
    private readonly o: LiveOptions,
  ) {
    this.windows = [...new Set(o.lengthsMs)].sort((a, b) => a - b).map((l) => new SlidingWindow(l));
    duck.keepSamplesFrom = () => Math.min(...this.windows.map((w) => (w.ready ? w.start : o.now() - w.lengthMs))) - 60_000;
  }

  /** Loads the windows from the store (in the background: until then, queries go to the store). */
  start(): Promise<void> {
    const loading = this.duck
      .exclusive(async (connection) => {
        const now = this.o.now();
        for (const w of this.windows) {
          const from = now - w.lengthMs;
          const { states, times } = await this.duck.windowState(from, connection);
          w.load(from, states, times);
        }
        // Subscribed in the same turn as the load: no write falls between them.
        this.unsubscribe = this.duck.onWritten((rows) => this.add(rows));
      })
      .then(() => {
        if (this.closed) return;
        this.timer = setInterval(() => void this.tick(), this.o.tickMs ?? 250);
        this.timer.unref();
      });
    loading.catch((err: unknown) => this.o.log.error({ err }, 'loading the live windows failed: queries read the store'));
    return loading;
  }

  get ready(): boolean {
    return this.windows.every((w) => w.ready) && this.unsubscribe !== undefined;
  }

  private add(rows: SampleBlock): void {
    for (const w of this.windows) w.addBlock(rows);
  }

  /** Moves every window's start to now - its length, subtracting the samples it passes. */
  tick(): Promise<void> {
    if (this.ticking || this.closed) return this.ticking ?? Promise.resolve();
    this.ticking = this.duck
      .exclusive(async (connection) => {
        const now = this.o.now();
        for (const w of this.windows) {
          const to = now - w.lengthMs;
          if (!w.ready || to <= w.start) continue;
          if (w.timeline.rowsBetween(w.start, to) > 0) await this.duck.scanSamples(w.start, to, { bucket: (edge, side, column, n) => w.removeBucket(edge, side, column, n), row: (_t, edge, side, v) => w.remove(edge, side, v) }, connection);
          w.advance(to);
        }
      })
      .catch((err: unknown) => this.o.log.warn({ err }, 'moving the live windows failed; will retry'))
      .finally(() => (this.ticking = undefined));
    return this.ticking;
  }

  /** Sample rows held by each window (for the hub's metrics). */
  sizes(): Array<{ lengthMs: number; rows: number }> {
    return this.windows.map((w) => ({ lengthMs: w.lengthMs, rows: w.rows }));
  }

  /**
   * The window's totals from memory when a live window covers it (it starts at or a few samples
   * after one, and no sample is newer than its end); undefined otherwise. The answer reads the
   * window as it is: use it before awaiting anything else.
   */
  async totals(q: Window): Promise<LiveAnswer | undefined> {
    const max = this.o.maxAdjustRows ?? 50_000;
    for (const w of this.windows) {
      if (!this.ready || q.from < w.start || w.timeline.last > q.to) continue;
      for (let attempt = 0; attempt < 3; attempt++) {
        const start = w.start;
        const version = w.version;
        const seq = this.duck.writeSeq;
        const skip = w.timeline.rowsBetween(start, q.from);
        if (skip > max) break;
        if (skip === 0) return { totals: this.view(w), lengthMs: w.lengthMs, adjustedRows: 0 };
        // Samples between the window's start and the query's: read back, subtracted from copies.
        const minus = new RowSums();
        await this.duck.scanSamples(start, q.from, {
          bucket: (edge, side, column, n) => {
            const at = minus.at(edge * 2 + side); // before reading values: a new row may replace them
            minus.values[at + column]! += n;
          },
          row: (_t, edge, side, v) => {
            const at = minus.at(edge * 2 + side);
            const values = minus.values;
            for (let i = 0; i < WIDTH; i++) values[at + i]! += v[i]!;
            minus.rows[at / WIDTH]!++;
          },
        });
        if (w.version !== version || w.start !== start || this.duck.writeSeq !== seq) continue;
        return { totals: this.view(w, minus), lengthMs: w.lengthMs, adjustedRows: skip };
      }
    }
    return undefined;
  }

  private view(w: SlidingWindow, minus?: RowSums): FineTotals {
    const adjusted = new Map<number, { array: Float64Array; at: number }>();
    if (minus) {
      // Each row's sums turn into the window's row less them, in place.
      const values = minus.values;
      for (const [row, at] of minus.offsets) {
        const cur = w.row(row >> 1, row & 1);
        if (!cur || cur.rows <= minus.rows[at / WIDTH]!) {
          adjusted.set(row, { array: NONE, at: -1 });
          continue;
        }
        const narrow = isNarrow(cur.array);
        for (let i = 0; i < WIDTH; i++) values[at + i] = (narrow && i >= NARROW ? 0 : cur.array[cur.at + i]!) - values[at + i]!;
        values[at + C.active] = cur.array[cur.at + C.active]!;
        adjusted.set(row, { array: values, at });
      }
    }
    // A side's row: adjusted, or the window's own (narrow or wide: see window.ts), or none.
    const array = (edge: number, s: number): Float64Array => {
      const row = edge * 2 + s;
      return (adjusted.size > 0 ? adjusted.get(row)?.array : undefined) ?? (w.rowCount(edge, s) > 0 ? w.rowArray(row) : NONE);
    };
    const at = (edge: number, s: number): number => {
      const row = edge * 2 + s;
      return (adjusted.size > 0 ? adjusted.get(row)?.at : undefined) ?? (w.rowCount(edge, s) > 0 ? w.rowAt(row) : -1);
    };
    const each = (visit: FineVisitor): number => {
      let n = 0;
      for (let edge = 0; edge < w.edges; edge++) {
        if (w.rowCount(edge, 0) === 0 && w.rowCount(edge, 1) === 0) continue;
        const ca = at(edge, 0);
        const sa = at(edge, 1);
        if (ca < 0 && sa < 0) continue;
        const c = array(edge, 0);
        const s = array(edge, 1);
        n++;
        visit(this.resolve(edge), c, ca, s, sa);
      }
      return n;
    };
    let size: number | undefined;
    return {
      get size() {
        return (size ??= each(() => undefined));
      },
      forEach: (visit) => void each(visit),
    };
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.unsubscribe?.();
  }
}
