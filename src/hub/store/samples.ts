// The tables of counters over time: `samples` (one row per fine edge, side and interval, kept an
// hour), `minutes` (the same per minute, kept for the retention) and `fives` (per minute end, the
// sums of the five minutes up to it: a five-minute window is one row per edge and side, not five;
// kept as long as the samples), each with a `_hist` table of the histograms' buckets as sparse
// pairs (see layout.ts). Writing, summing a window, per-step series, reading rows back, rolling
// samples up into minutes and minutes into fives, and the Parquet files' query.
import { DuckDBDataChunk, BIGINT, DOUBLE, INTEGER, TINYINT, UTINYINT, type DuckDBConnection, type DuckDBType, type DuckDBVector } from '@duckdb/node-api';
import { COLUMNS, NARROW, WIDTH, isNarrow, narrowRows, newSide, type Side } from '../graph/counters.js';
import type { SampleBlock } from '../graph/sample-block.js';
import { BUCKET_COLUMNS, DENSE, DENSE_NAMES, REQUEST_DENSE_NAMES, bucketPivot, denseAggregate, denseDefinition, densePlain, denseSum, denseSums } from './layout.js';
import type { Window } from './store.js';

export const MINUTE = 60_000;

export interface SampleRow {
  /** The interval's end, ms. */
  t: number;
  durMs: number;
  edge: number;
  side: number;
  values: Side;
}

export type Table = 'samples' | 'minutes' | 'fives';

/** The span of a `fives` row: the minutes (t - FIVE, t]. */
export const FIVE = 5 * MINUTE;

export const SAMPLE_TABLES = [
  `CREATE TABLE IF NOT EXISTS samples (t BIGINT, dur INTEGER, edge INTEGER, side TINYINT, ${denseDefinition})`,
  `CREATE TABLE IF NOT EXISTS samples_hist (t BIGINT, edge INTEGER, side TINYINT, b UTINYINT, n DOUBLE)`,
  `CREATE TABLE IF NOT EXISTS minutes (t BIGINT, edge INTEGER, side TINYINT, ${denseDefinition})`,
  `CREATE TABLE IF NOT EXISTS minutes_hist (t BIGINT, edge INTEGER, side TINYINT, b UTINYINT, n DOUBLE)`,
  `CREATE TABLE IF NOT EXISTS fives (t BIGINT, edge INTEGER, side TINYINT, ${denseDefinition})`,
  `CREATE TABLE IF NOT EXISTS fives_hist (t BIGINT, edge INTEGER, side TINYINT, b UTINYINT, n DOUBLE)`,
];

/** Typed arrays of a vector's items (no value objects); others converted. */
export function items(v: DuckDBVector, n: number): ArrayLike<number> {
  const a = (v as unknown as { items?: unknown }).items;
  if (a instanceof Float64Array || a instanceof Int32Array || a instanceof Int8Array || a instanceof Int16Array || a instanceof Uint8Array) return a;
  return Array.from({ length: n }, (_, i) => Number(v.getItem(i) ?? 0));
}

/** Rows per chunk appended. */
const CHUNK = 2048;

/** Appends a block's rows (and their buckets' pairs) to a table, columns filled in place. */
export async function appendSamples(connection: DuckDBConnection, table: Table, block: SampleBlock): Promise<void> {
  const withDur = table === 'samples';
  const types: DuckDBType[] = [BIGINT, ...(withDur ? [INTEGER] : []), INTEGER, TINYINT, ...DENSE.map(() => DOUBLE)];
  const appender = await connection.createAppender(table);
  const chunk = DuckDBDataChunk.create(types, CHUNK);
  const vectors = types.map((_, i) => chunk.getColumnVector(i));
  const cols = vectors.map((v) => (v as unknown as { items: BigInt64Array | Float64Array | Int32Array | Int8Array }).items);
  const at = withDur ? 4 : 3;
  const hist = await connection.createAppender(`${table}_hist`);
  const hchunk = DuckDBDataChunk.create([BIGINT, INTEGER, TINYINT, UTINYINT, DOUBLE], CHUNK);
  const hvectors = [0, 1, 2, 3, 4].map((i) => hchunk.getColumnVector(i));
  const [ht, he, hs, hb, hn] = hvectors.map((v) => (v as unknown as { items: BigInt64Array | Int32Array | Int8Array | Uint8Array | Float64Array }).items) as [BigInt64Array, Int32Array, Int8Array, Uint8Array, Float64Array];
  // Rows of one write share a few interval ends: one BigInt per run of equal times.
  let lastT = NaN;
  let bigT = 0n;
  const bigOf = (t: number): bigint => (t === lastT ? bigT : ((lastT = t), (bigT = BigInt(t))));
  let h = 0;
  const flushHist = (): void => {
    for (const v of hvectors) v.flush();
    hchunk.rowCount = h;
    hist.appendDataChunk(hchunk);
    h = 0;
  };
  let n = 0;
  const flush = (): void => {
    for (const v of vectors) v.flush();
    chunk.rowCount = n;
    appender.appendDataChunk(chunk);
    n = 0;
  };
  const tcol = cols[0] as BigInt64Array;
  const durcol = withDur ? (cols[1] as Int32Array) : undefined;
  const edgecol = cols[withDur ? 2 : 1] as Int32Array;
  const sidecol = cols[withDur ? 3 : 2] as Int8Array;
  const dense = cols.slice(at) as Float64Array[];
  // A row at a time: its dense columns and its pairs read the same few cache lines.
  for (let r = 0; r < block.size; r++) {
    const t = bigOf(block.t[r]!);
    const edge = block.edge[r]!;
    const side = block.side[r]!;
    const values = block.valuesOf(r);
    const row = block.offsetOf(r);
    tcol[n] = t;
    if (durcol) durcol[n] = block.dur[r]!;
    edgecol[n] = edge;
    sidecol[n] = side;
    for (let i = 0; i < DENSE.length; i++) dense[i]![n] = values[row + DENSE[i]!]!;
    if (++n === CHUNK) flush();
    for (let b = 0; b < BUCKET_COLUMNS.length; b++) {
      const x = values[row + BUCKET_COLUMNS[b]!]!;
      if (x === 0) continue;
      ht[h] = t;
      he[h] = edge;
      hs[h] = side;
      hb[h] = b;
      hn[h] = x;
      if (++h === CHUNK) flushHist();
    }
  }
  if (n) flush();
  if (h) flushHist();
  appender.closeSync();
  hist.closeSync();
}

/**
 * A row buffer given back by its table (RowsTable.recycle), zeroed, for the next large table: a
 * window's rows are 40-150 MB at 100,000 edges, and fresh memory of that size costs page faults
 * and a garbage collection at each query. One is kept (at most the size of the largest window read).
 */
let spare: Float64Array | undefined;
/** Below this many counters a buffer is made new (cheap), and the spare is left for large reads. */
const SPARE_MIN = 1 << 20;

function rowsBuffer(rows: number, narrow: boolean): Float64Array {
  const need = rows * (narrow ? NARROW : WIDTH);
  const s = spare;
  if (need >= SPARE_MIN && s && s.length >= need && isNarrow(s) === narrow) {
    spare = undefined;
    return s;
  }
  return narrow ? narrowRows(rows) : new Float64Array(need);
}

/**
 * Per-edge-and-side rows of WIDTH counters in one array (no object per row). After narrow() the
 * rows are narrow (NARROW columns, counters.ts narrowRows): read them at row * stride, through the
 * helpers of counters.ts.
 */
export class RowsTable {
  /** Per row: edge and side. */
  edges: Int32Array = new Int32Array(1024);
  sides: Int8Array = new Int8Array(1024);
  values: Float64Array = new Float64Array(1024 * WIDTH);
  /** Columns per row: WIDTH, or NARROW once narrow() was called. */
  stride: number = WIDTH;
  /** Per row: samples summed into it, and the latest one's time (when the query asked). */
  counts: Float64Array = new Float64Array(1024);
  lastT: Float64Array = new Float64Array(1024);
  size = 0;
  /** Per edge * 2 + side (edge ids are the dictionary's small integers): its row + 1, 0 when absent. */
  private byKey = new Int32Array(1024);

  /** Empty again, with rows of NARROW columns (`narrow`) or WIDTH. */
  clear(narrow: boolean): void {
    this.byKey.fill(0);
    this.size = 0;
    this.stride = narrow ? NARROW : WIDTH;
    this.values = narrow ? narrowRows(this.edges.length) : new Float64Array(this.edges.length * WIDTH);
  }

  /**
   * Gives the rows' buffer back for the next table (zeroed here), when it is large: the table is
   * empty after this, and no row read from it before may be read again.
   */
  recycle(): void {
    const v = this.values;
    const used = this.size * this.stride;
    this.values = new Float64Array(0);
    this.size = 0;
    this.byKey = new Int32Array(0);
    if (v.length < SPARE_MIN || (spare && spare.length >= v.length)) return;
    // Only rows were written (a spare is zero past them).
    v.fill(0, 0, used);
    spare = v;
  }

  /** Room for edge ids below `edges` without growing the key table. */
  reserveKeys(edges: number): void {
    if (2 * edges > this.byKey.length) this.growKeys(2 * edges - 1);
  }

  /** The row of (edge, side), added when new. */
  row(edge: number, side: number): number {
    const key = edge * 2 + side;
    if (key >= this.byKey.length) this.growKeys(key);
    const known = this.byKey[key]!;
    if (known) return known - 1;
    const r = this.size++;
    if (r >= this.edges.length) this.grow();
    this.byKey[key] = r + 1;
    this.edges[r] = edge;
    this.sides[r] = side;
    return r;
  }

  find(edge: number, side: number): number | undefined {
    const known = this.byKey[edge * 2 + side];
    return known ? known - 1 : undefined;
  }

  private growKeys(key: number): void {
    const k = new Int32Array(Math.max(key + 1, this.byKey.length * 2));
    k.set(this.byKey);
    this.byKey = k;
  }

  /** Makes room for `rows` more rows at once (one copy, not one per doubling: a window's rows are 100 MB at 100,000 edges). */
  reserve(rows: number): void {
    if (this.size + rows > this.edges.length) this.grow(this.size + rows);
  }

  private grow(n = this.edges.length * 2): void {
    const e = new Int32Array(n);
    e.set(this.edges);
    const s = new Int8Array(n);
    s.set(this.sides);
    const v = rowsBuffer(n, this.stride !== WIDTH);
    v.set(this.values.subarray(0, this.size * this.stride));
    const c = new Float64Array(n);
    c.set(this.counts);
    const l = new Float64Array(n);
    l.set(this.lastT);
    this.edges = e;
    this.sides = s;
    this.values = v;
    this.counts = c;
    this.lastT = l;
  }
}

/** Where a window's rows come from, as SQL over the dense table and its pairs table. */
export interface Sources {
  dense: string;
  hist: string;
  /** Each (edge, side) is in at most one dense row and each (edge, side, b) in one pair: nothing to add up. */
  unique?: boolean;
}

/** The `fives` rows a store holds, by their time (each complete: every minute of its span summed). */
export interface FiveSlices {
  has(t: number): boolean;
}

/**
 * Minute roll-ups for the whole minutes inside the window (or all of it, snapped to minutes, when
 * its samples were exported), samples for the rest; with `fives`, the whole minutes from the
 * window's end back are five-minute rows where the store has them, minutes only for what is
 * left. `extra` adds columns of the dense rows.
 */
export function sources(w: Window, rolledTo: number, samplesFloor: number, edges?: readonly number[], extra = '', fives?: FiveSlices): Sources {
  const only = edges ? ` AND edge IN (${edges.length ? edges.join(',') : '-1'})` : '';
  const oldFrom = w.from < samplesFloor;
  const oldTo = w.to < samplesFloor;
  const a = oldFrom ? Math.floor(w.from / MINUTE) * MINUTE : Math.ceil(w.from / MINUTE) * MINUTE;
  const b = Math.min(oldTo ? Math.ceil(w.to / MINUTE) * MINUTE : Math.floor(w.to / MINUTE) * MINUTE, rolledTo);
  const of = (table: Table, hist: boolean, from: number, to: number): string =>
    `SELECT t, edge, side, ${hist ? 'b, n' : `${densePlain}${extra}`} FROM ${table}${hist ? '_hist' : ''} WHERE t > ${from} AND t <= ${to}${only}`;
  if (a >= b) return { dense: of('samples', false, w.from, w.to), hist: of('samples', true, w.from, w.to) };
  // Five-minute rows tile the whole minutes from the end back; minutes the rest.
  const slices: number[] = [];
  let m = b;
  if (fives) while (m - FIVE >= a && fives.has(m)) (slices.push(m), (m -= FIVE));
  const build = (hist: boolean): string => {
    // Plain ranges (no OR), so that DuckDB skips row groups by their min/max of t.
    const parts = slices.map((t) => of('fives', hist, t - 1, t));
    if (m > a) parts.push(of('minutes', hist, a, m));
    if (a > w.from) parts.push(of('samples', hist, w.from, a));
    if (w.to > b) parts.push(of('samples', hist, b, w.to));
    return parts.join(' UNION ALL ');
  };
  return { dense: build(false), hist: build(true), unique: slices.length === 1 && m <= a && a <= w.from && w.to <= b };
}

/**
 * The row columns (Side layout indices) not zero in every row of the window: the others need no
 * summing nor reading (a scan costs less than a column summed: most windows count no requests,
 * and many no failures of some kinds, retransmits or resets).
 */
async function usedColumns(connection: DuckDBConnection, src: Sources): Promise<number[]> {
  const r = await connection.runAndReadAll(`SELECT ${DENSE_NAMES.map((c) => `bool_or(${c} <> 0)`).join(', ')} FROM (${src.dense})`);
  const row = r.getRows()[0] ?? [];
  return DENSE.filter((_, k) => row[k] === true);
}

/**
 * Sums a window per edge and side into `out` (with `counts`, the rows summed and the latest one's
 * time too). With `narrowOk`, the rows are narrow when the window counted no requests (see
 * RowsTable): half the memory to fill at 91 columns.
 */
export async function sumWindow(connection: DuckDBConnection, src: Sources, out: RowsTable, counts = false, narrowOk = false): Promise<void> {
  const used = await usedColumns(connection, src);
  if (narrowOk && used.every((c) => c < NARROW)) {
    out.clear(true);
    // Request buckets without request columns (not written so): read again with wide rows.
    if (!(await sumInto(connection, src, out, used, counts))) {
      out.clear(false);
      await sumInto(connection, src, out, used, counts);
    }
    return;
  }
  await sumInto(connection, src, out, used, counts);
}

/** sumWindow's reading, of the `used` columns; false when a bucket does not fit out's rows. */
async function sumInto(connection: DuckDBConnection, src: Sources, out: RowsTable, used: number[], counts: boolean): Promise<boolean> {
  const names = used.map((i) => COLUMNS[i]!);
  // The used columns come as one fixed-size array per row (row after row in one vector a chunk:
  // one vector to make instead of one per column, and DuckDB writes it faster too).
  const row = (cols: string[]): string => (cols.length ? `, [${cols.join(', ')}]::DOUBLE[${cols.length}]` : '');
  const counted = counts ? ', CAST(count(*) AS DOUBLE), CAST(max(t) AS DOUBLE)' : '';
  const denseSql = src.unique && !counts ? `SELECT edge, side${row(names)} FROM (${src.dense})` : `SELECT edge, side${counted}${row(used.map(denseAggregate))} FROM (${src.dense}) GROUP BY edge, side`;
  const dense = await connection.run(denseSql);
  out.reserve(dense.rowCount);
  const stride = out.stride;
  const columns = Int32Array.from(used);
  const at = counts ? 4 : 2;
  let bases = new Int32Array(0);
  for (;;) {
    const chunk = await dense.fetchChunk();
    if (!chunk || chunk.rowCount === 0) break;
    const n = chunk.rowCount;
    const edge = items(chunk.getColumnVector(0), n);
    const side = items(chunk.getColumnVector(1), n);
    const count = counts ? items(chunk.getColumnVector(2), n) : undefined;
    const last = counts ? items(chunk.getColumnVector(3), n) : undefined;
    if (bases.length < n) bases = new Int32Array(n);
    for (let r = 0; r < n; r++) {
      const row = out.row(edge[r]!, side[r]!);
      bases[r] = row * stride;
      if (count) out.counts[row] = count[r]!;
      if (last) out.lastT[row] = last[r]!;
    }
    if (used.length) copyRows(arrayItems(chunk.getColumnVector(at), n * used.length), columns, n, bases, out.values);
  }
  const hist = await connection.run(src.unique ? `SELECT edge, side, b, n FROM (${src.hist})` : `SELECT edge, side, b, sum(n) FROM (${src.hist}) GROUP BY edge, side, b`);
  for (;;) {
    const chunk = await hist.fetchChunk();
    if (!chunk || chunk.rowCount === 0) break;
    const n = chunk.rowCount;
    const edge = items(chunk.getColumnVector(0), n);
    const side = items(chunk.getColumnVector(1), n);
    const b = items(chunk.getColumnVector(2), n);
    const sum = items(chunk.getColumnVector(3), n);
    const values = out.values;
    for (let r = 0; r < n; r++) {
      const row = out.find(edge[r]!, side[r]!);
      if (row === undefined) continue;
      const column = BUCKET_COLUMNS[b[r]!]!;
      if (column >= stride) return false;
      values[row * stride + column] = sum[r]!;
    }
  }
  return true;
}

/** The items of a fixed-size array vector (row after row), as a typed array. */
function arrayItems(v: DuckDBVector, n: number): ArrayLike<number> {
  return items((v as unknown as { childData: DuckDBVector }).childData, n);
}

/** values[bases[r] + columns[i]] = src[r * k + i] for the first n rows (k = columns.length). */
function copyRows(src: ArrayLike<number>, columns: Int32Array, n: number, bases: Int32Array, values: Float64Array): void {
  const k = columns.length;
  for (let r = 0, j = 0; r < n; r++) {
    const base = bases[r]!;
    for (let i = 0; i < k; i++, j++) values[base + columns[i]!] = src[j]!;
  }
}

/** The selected edges' counters summed per step (steps end at from + k * step), per side. */
export async function sumSteps(connection: DuckDBConnection, src: Sources, w: Window, stepMs: number): Promise<Map<number, [Side | undefined, Side | undefined]>> {
  const out = new Map<number, [Side | undefined, Side | undefined]>();
  const bucket = `CAST(ceil((t - ${w.from}) / ${stepMs}) AS BIGINT)`;
  const sideOf = (b: number, side: number): Side => {
    const t = w.from + b * stepMs;
    let pair = out.get(t);
    if (!pair) out.set(t, (pair = [undefined, undefined]));
    return (pair[side === 0 ? 0 : 1] ??= newSide());
  };
  // The gauge (active) is the last reading per edge in a step, summed over edges.
  const perEdge = `SELECT ${bucket} AS s, edge, side, ${denseSums} FROM (${src.dense}) GROUP BY s, edge, side`;
  const dense = await connection.run(`SELECT s, side, ${DENSE_NAMES.map((c) => `sum(${c}) AS ${c}`).join(', ')} FROM (${perEdge}) GROUP BY s, side ORDER BY s`);
  for (;;) {
    const chunk = await dense.fetchChunk();
    if (!chunk || chunk.rowCount === 0) break;
    const n = chunk.rowCount;
    const s = chunk.getColumnVector(0);
    const side = items(chunk.getColumnVector(1), n);
    const cols = DENSE.map((_, i) => items(chunk.getColumnVector(2 + i), n));
    for (let r = 0; r < n; r++) {
      const v = sideOf(Number(s.getItem(r)), side[r]!);
      for (let i = 0; i < DENSE.length; i++) v[DENSE[i]!] = cols[i]![r]!;
    }
  }
  const hist = await connection.run(`SELECT ${bucket} AS s, side, b, sum(n) FROM (${src.hist}) GROUP BY s, side, b`);
  for (;;) {
    const chunk = await hist.fetchChunk();
    if (!chunk || chunk.rowCount === 0) break;
    const n = chunk.rowCount;
    const s = chunk.getColumnVector(0);
    const side = items(chunk.getColumnVector(1), n);
    const b = items(chunk.getColumnVector(2), n);
    const sum = items(chunk.getColumnVector(3), n);
    for (let r = 0; r < n; r++) sideOf(Number(s.getItem(r)), side[r]!)[BUCKET_COLUMNS[b[r]!]!] = sum[r]!;
  }
  return out;
}

/** Visitors of rows read back: buckets first (pairs), then each row's other counters (buckets 0 there). */
export interface RowReader {
  bucket(edge: number, side: number, column: number, n: number): void;
  row(t: number, edge: number, side: number, values: Float64Array): void;
}

/** Reads the samples with from < t <= to back. */
export async function readSamples(connection: DuckDBConnection, from: number, to: number, visit: RowReader): Promise<number> {
  const hist = await connection.run(`SELECT edge, side, b, n FROM samples_hist WHERE t > ${from} AND t <= ${to}`);
  for (;;) {
    const chunk = await hist.fetchChunk();
    if (!chunk || chunk.rowCount === 0) break;
    const n = chunk.rowCount;
    const edge = items(chunk.getColumnVector(0), n);
    const side = items(chunk.getColumnVector(1), n);
    const b = items(chunk.getColumnVector(2), n);
    const v = items(chunk.getColumnVector(3), n);
    for (let r = 0; r < n; r++) visit.bucket(edge[r]!, side[r]!, BUCKET_COLUMNS[b[r]!]!, v[r]!);
  }
  const dense = await connection.run(`SELECT CAST(t AS DOUBLE), edge, side, ${densePlain} FROM samples WHERE t > ${from} AND t <= ${to}`);
  const row = newSide();
  let rows = 0;
  for (;;) {
    const chunk = await dense.fetchChunk();
    if (!chunk || chunk.rowCount === 0) break;
    const n = chunk.rowCount;
    const t = items(chunk.getColumnVector(0), n);
    const edge = items(chunk.getColumnVector(1), n);
    const side = items(chunk.getColumnVector(2), n);
    const cols = DENSE.map((_, i) => items(chunk.getColumnVector(3 + i), n));
    for (let r = 0; r < n; r++) {
      for (let i = 0; i < DENSE.length; i++) row[DENSE[i]!] = cols[i]![r]!;
      visit.row(t[r]!, edge[r]!, side[r]!, row);
    }
    rows += n;
  }
  return rows;
}

/** Sums the minutes of (t - FIVE, t] into the `fives` row at t (both tables). */
export async function rollUpFive(connection: DuckDBConnection, t: number): Promise<void> {
  // Rows of an earlier attempt (one whose transaction took them out but was rolled back) go first.
  await deleteAt(connection, 'fives', t);
  await connection.run(`INSERT INTO fives SELECT ${t} AS t, edge, side, ${denseSums} FROM minutes WHERE t > ${t - FIVE} AND t <= ${t} GROUP BY edge, side`);
  await connection.run(`INSERT INTO fives_hist SELECT ${t} AS t, edge, side, b, sum(n) FROM minutes_hist WHERE t > ${t - FIVE} AND t <= ${t} GROUP BY edge, side, b`);
}

/** Rolls samples with from < t <= to up into minutes (both tables). */
export async function rollUp(connection: DuckDBConnection, from: number, to: number): Promise<void> {
  const minute = `CAST(ceil(t / ${MINUTE}) AS BIGINT) * ${MINUTE}`;
  await connection.run(`INSERT INTO minutes SELECT ${minute} AS m, edge, side, ${denseSums} FROM samples WHERE t > ${from} AND t <= ${to} GROUP BY m, edge, side ORDER BY m`);
  await connection.run(`INSERT INTO minutes_hist SELECT ${minute} AS m, edge, side, b, sum(n) FROM samples_hist WHERE t > ${from} AND t <= ${to} GROUP BY m, edge, side, b ORDER BY m`);
}

/** Deletes the rows at t from a table and its pairs. */
async function deleteAt(connection: DuckDBConnection, table: Table, t: number): Promise<void> {
  await connection.run(`DELETE FROM ${table} WHERE t = ${t}`);
  await connection.run(`DELETE FROM ${table}_hist WHERE t = ${t}`);
}

/** Deletes rows with t <= before from a table and its pairs. */
export async function deleteUpTo(connection: DuckDBConnection, table: Table, before: number): Promise<void> {
  await connection.run(`DELETE FROM ${table} WHERE t <= ${before}`);
  await connection.run(`DELETE FROM ${table}_hist WHERE t <= ${before}`);
}

/**
 * One hour of samples as rows with every counter (the buckets as the per-bucket columns,
 * connect_b0...): what the Parquet files hold, with the ends given by `ends`.
 */
export function exportRows(from: number, to: number): string {
  const bucketNames = BUCKET_COLUMNS.map((c) => `coalesce(h.${COLUMNS[c]!}, 0) AS ${COLUMNS[c]!}`).join(', ');
  return `SELECT s.*, ${bucketNames}
    FROM (SELECT * FROM samples WHERE t > ${from} AND t <= ${to}) s
    LEFT JOIN (SELECT t, edge, side, ${bucketPivot('x')} FROM samples_hist x WHERE t > ${from} AND t <= ${to} GROUP BY t, edge, side) h USING (t, edge, side)`;
}

/**
 * Tables written before requests were stored: the request columns added (zero in the old rows),
 * at the end where the appender expects them. Returns the tables changed.
 */
export async function addRequestColumns(connection: DuckDBConnection): Promise<Table[]> {
  const changed: Table[] = [];
  for (const table of ['samples', 'minutes'] as const) {
    const r = await connection.runAndReadAll(`SELECT column_name FROM information_schema.columns WHERE table_name = '${table}'`);
    const have = new Set(r.getRows().map((row) => String(row[0])));
    if (have.size === 0) continue;
    const missing = REQUEST_DENSE_NAMES.filter((c) => !have.has(c));
    for (const c of missing) await connection.run(`ALTER TABLE ${table} ADD COLUMN ${c} DOUBLE DEFAULT 0`);
    if (missing.length) changed.push(table);
  }
  return changed;
}

/**
 * Tables written before the buckets were pairs (one column per bucket): their rows moved into
 * the new layout, in one transaction. Returns whether there was anything to move.
 */
export async function migrateBucketColumns(connection: DuckDBConnection): Promise<boolean> {
  const r = await connection.runAndReadAll(`SELECT table_name FROM information_schema.columns WHERE table_name IN ('samples', 'minutes') AND column_name = 'connect_b0'`);
  const old = r.getRows().map((row) => String(row[0]) as Table);
  if (old.length === 0) return false;
  await connection.run('BEGIN TRANSACTION');
  try {
    for (const table of old) {
      const keys = table === 'samples' ? 't, dur, edge, side' : 't, edge, side';
      await connection.run(`ALTER TABLE ${table} RENAME TO ${table}_old`);
      await connection.run(SAMPLE_TABLES[table === 'samples' ? 0 : 2]!);
      await connection.run(SAMPLE_TABLES[table === 'samples' ? 1 : 3]!);
      await connection.run(`INSERT INTO ${table} SELECT ${keys}, ${densePlain} FROM ${table}_old`);
      // Those tables had connect's and RTT's buckets as columns (the pairs' first numbers).
      const pairs = BUCKET_COLUMNS.filter((c) => /^(connect|rtt)_b/.test(COLUMNS[c]!)).map((c, b) => `SELECT t, edge, side, CAST(${b} AS UTINYINT) AS b, ${COLUMNS[c]!} AS n FROM ${table}_old WHERE ${COLUMNS[c]!} <> 0`).join(' UNION ALL ');
      await connection.run(`INSERT INTO ${table}_hist SELECT * FROM (${pairs}) ORDER BY t`);
      await connection.run(`DROP TABLE ${table}_old`);
    }
    await connection.run('COMMIT');
  } catch (err) {
    await connection.run('ROLLBACK').catch(() => undefined);
    throw err;
  }
  return true;
}
