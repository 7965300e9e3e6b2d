// The embedded history: DuckDB in one file under --data. Interval-resolution samples for the last
// hour, 1-minute roll-ups for the retention, 5-minute sums at each minute's end for as long as the
// samples (what windows not ending now read: a row per edge side per five minutes), finished
// hours exported to Parquet (readable by any tool: one row per edge side and interval, both ends'
// identities as columns). Also kept here so
// that a restart loses nothing: the endpoint and edge dictionaries, the agent runs (what was
// applied), the inbox (batches accepted but not yet joined) and the join's claims.
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBBlobValue, type DuckDBConnection } from '@duckdb/node-api';
import { COLUMNS, WIDTH, sideCopy, type Side } from '../graph/counters.js';
import type { FineEdge } from '../graph/edges.js';
import type { Endpoint, EndpointKind } from '../graph/endpoint.js';
import type { Window } from './store.js';
import { densePlain } from './layout.js';
import { SampleBlock } from '../graph/sample-block.js';
import { FIVE, MINUTE, RowsTable, SAMPLE_TABLES, addRequestColumns, appendSamples, deleteUpTo, exportRows, migrateBucketColumns, readSamples, rollUp, rollUpFive, sources, sumSteps, sumWindow, type RowReader, type SampleRow } from './samples.js';

export { MINUTE, RowsTable, type RowReader, type SampleRow };

export const HOUR = 60 * MINUTE;

/** One ingest request as it came (its body still encoded), with the batches it brought. */
export interface InboxEntry {
  id: number;
  receivedMs: number;
  encoding: string;
  body: Buffer;
  /** [agent, start, seq] of each batch applied from it. */
  batches: Array<[string, string, number]>;
}

/** Per edge id: [client, server] totals. */
export type TotalsByEdge = Map<number, [Side | undefined, Side | undefined]>;

const DENSE_SELECT = densePlain;

const ENDPOINT_COLUMNS = ['kind', 'node', 'zone', 'process', 'cgroup', 'container', 'pod', 'namespace', 'workload', 'workload_kind', 'service', 'image', 'version', 'addr', 'dns'] as const;
const ENDPOINT_FIELDS: Record<(typeof ENDPOINT_COLUMNS)[number], keyof Endpoint> = {
  kind: 'kind',
  node: 'node',
  zone: 'zone',
  process: 'process',
  cgroup: 'cgroup',
  container: 'container',
  pod: 'pod',
  namespace: 'namespace',
  workload: 'workload',
  workload_kind: 'workloadKind',
  service: 'service',
  image: 'image',
  version: 'version',
  addr: 'addr',
  dns: 'dns',
};


const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)`,
  `CREATE TABLE IF NOT EXISTS endpoints (id INTEGER PRIMARY KEY, ${ENDPOINT_COLUMNS.map((c) => `${c} VARCHAR`).join(', ')}, labels VARCHAR)`,
  `CREATE TABLE IF NOT EXISTS edges (id INTEGER PRIMARY KEY, client INTEGER, server INTEGER, port INTEGER, protocol VARCHAR)`,
  `CREATE TABLE IF NOT EXISTS runs (agent VARCHAR, start VARCHAR, body VARCHAR, PRIMARY KEY (agent, start))`,
  `CREATE TABLE IF NOT EXISTS inbox (id BIGINT PRIMARY KEY, received_ms BIGINT, encoding VARCHAR, body BLOB, batches VARCHAR)`,
];

/** Runs one operation at a time on a connection (DuckDB transactions are per connection). */
class Serial {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(fn, fn);
    this.tail = next.catch(() => undefined);
    return next;
  }
}

/** What a window's samples held per edge and side: the sums (active: the last reading), rows, and the last row's time. */
export interface WindowState {
  edge: number;
  side: number;
  values: Float64Array;
  rows: number;
  lastT: number;
}

/**
 * A window's rows kept after its answer: asked again (the same sources: same tables and ranges),
 * it is answered from them. A write at or before its end, a taking out of `fives` rows or an
 * expiry makes it stale (read again); a stale one's buffer is recycled once its last user is done.
 */
interface KeptWindow {
  /** The window's sources (dense and pairs SQL): what a read of it now would read. */
  key: string;
  from: number;
  to: number;
  table: RowsTable;
  /** Answers reading the rows now. */
  users: number;
  /** Still what a read would return (and still in `kept`). */
  valid: boolean;
  /** Being read (not yet for others to use). */
  reading: boolean;
}

/** The rows of one window (kept or not): `release` when nothing reads them any more. */
export interface WindowRows {
  table: RowsTable;
  release(): void;
}

export interface DuckStoreOptions {
  dataDir: string;
  retentionMs: number;
  /** How long interval-resolution samples stay in the database (they are in Parquet after). */
  samplesMs?: number;
  /** DuckDB's memory limit, e.g. '1GB'. */
  memoryLimit?: string;
}

export class DuckStore {
  private writer!: DuckDBConnection;
  private reader!: DuckDBConnection;
  private readonly writes = new Serial();
  private readonly written = new Set<(rows: SampleBlock) => void>();
  /** Counts writes of samples: a reader that saw it change while it read may have missed or doubled rows. */
  writeSeq = 0;
  private savedEndpoints = 0;
  private savedEdges = 0;
  /** All samples with t <= rolledTo are in minutes too. */
  rolledTo = 0;
  /** Hours (their start, ms) already exported to Parquet. */
  exportedTo = 0;
  /** Samples older than this were exported and deleted: queries before it use minutes. */
  samplesFloor = 0;
  /** The times of the complete `fives` rows (those a late sample touched are taken out until made again). */
  readonly fives = new Set<number>();
  /** Counts takings out of `fives` rows: a reader that saw it change while it read may have missed rows. */
  private fivesDrops = 0;
  /** Most `fives` rows one maintenance makes (catching up after an upgrade or a pause, it does not hold the writer long). */
  fivesPerMaintain = 5;
  /** The rows of the last windows read whole (most recent last), kept for their next ask. */
  private readonly kept: KeptWindow[] = [];
  /** How many windows' rows are kept (a window and its baseline: a diff, or the UI going back and forth). */
  keptWindows = 2;
  /** The sources of the last windows read once (a window's rows are kept from its second read: one asked once does not push others out). */
  private readonly readOnce: string[] = [];
  /** Samples from this time on are still needed (live windows expire them by reading them back). */
  keepSamplesFrom: () => number = () => Infinity;
  readonly samplesMs: number;

  private constructor(
    private readonly instance: DuckDBInstance,
    readonly options: DuckStoreOptions,
  ) {
    this.samplesMs = options.samplesMs ?? HOUR;
  }

  get file(): string {
    return join(this.options.dataDir, 'flowscope.duckdb');
  }

  get parquetDir(): string {
    return join(this.options.dataDir, 'parquet');
  }

  static async open(options: DuckStoreOptions): Promise<DuckStore> {
    mkdirSync(join(options.dataDir, 'parquet'), { recursive: true });
    const file = join(options.dataDir, 'flowscope.duckdb');
    const instance = await DuckDBInstance.create(file, { memory_limit: options.memoryLimit ?? '2GB', threads: '2' });
    const store = new DuckStore(instance, options);
    store.writer = await instance.connect();
    store.reader = await instance.connect();
    for (const sql of SCHEMA) await store.writer.run(sql);
    // Data of a hub from before requests were stored, and from before the buckets were pairs.
    await addRequestColumns(store.writer);
    await migrateBucketColumns(store.writer);
    for (const sql of SAMPLE_TABLES) await store.writer.run(sql);
    store.rolledTo = Number((await store.meta('rolled_to')) ?? 0);
    store.exportedTo = Number((await store.meta('exported_to')) ?? 0);
    store.samplesFloor = Number((await store.meta('samples_floor')) ?? 0);
    const fives = await store.reader.runAndReadAll('SELECT DISTINCT CAST(t AS DOUBLE) FROM fives');
    for (const row of fives.getRows()) store.fives.add(Number(row[0]));
    return store;
  }

  async meta(key: string): Promise<string | undefined> {
    const r = await this.reader.runAndReadAll('SELECT value FROM meta WHERE key = $1', [key]);
    const rows = r.getRows();
    return rows.length ? String(rows[0]![0]) : undefined;
  }

  setMeta(key: string, value: string): Promise<void> {
    return this.writes.run(async () => {
      await this.writer.run('INSERT OR REPLACE INTO meta VALUES ($1, $2)', [key, value]);
    });
  }

  // --- dictionaries ---------------------------------------------------------------------------

  async loadEndpoints(): Promise<Array<[number, Endpoint]>> {
    const r = await this.reader.runAndReadAll(`SELECT id, ${ENDPOINT_COLUMNS.join(', ')}, labels FROM endpoints ORDER BY id`);
    const out: Array<[number, Endpoint]> = [];
    for (const row of r.getRows()) {
      const e: Record<string, unknown> = {};
      ENDPOINT_COLUMNS.forEach((c, i) => (e[ENDPOINT_FIELDS[c]] = String(row[i + 1] ?? '')));
      e.kind = e.kind as EndpointKind;
      e.labels = JSON.parse(String(row[ENDPOINT_COLUMNS.length + 1] ?? '{}')) as Record<string, string>;
      out.push([Number(row[0]), e as unknown as Endpoint]);
    }
    this.savedEndpoints = out.length;
    return out;
  }

  async loadEdges(): Promise<FineEdge[]> {
    const r = await this.reader.runAndReadAll('SELECT id, client, server, port, protocol FROM edges ORDER BY id');
    const out = r.getRows().map((row) => ({ id: Number(row[0]), client: Number(row[1]), server: Number(row[2]), port: Number(row[3]), protocol: 'tcp' as const }));
    this.savedEdges = out.length;
    return out;
  }

  private async saveDictionaries(endpoints: ArrayLike<Endpoint>, edges: ArrayLike<FineEdge>): Promise<void> {
    if (endpoints.length > this.savedEndpoints) {
      const a = await this.writer.createAppender('endpoints');
      for (let id = this.savedEndpoints; id < endpoints.length; id++) {
        const e = endpoints[id]!;
        a.appendInteger(id);
        for (const c of ENDPOINT_COLUMNS) a.appendVarchar(String(e[ENDPOINT_FIELDS[c]]));
        a.appendVarchar(JSON.stringify(e.labels));
        a.endRow();
      }
      a.closeSync();
      this.savedEndpoints = endpoints.length;
    }
    if (edges.length > this.savedEdges) {
      const a = await this.writer.createAppender('edges');
      for (let id = this.savedEdges; id < edges.length; id++) {
        const e = edges[id]!;
        a.appendInteger(e.id);
        a.appendInteger(e.client);
        a.appendInteger(e.server);
        a.appendInteger(e.port);
        a.appendVarchar(e.protocol);
        a.endRow();
      }
      a.closeSync();
      this.savedEdges = edges.length;
    }
  }

  // --- runs and inbox -------------------------------------------------------------------------

  async loadRuns(): Promise<string[]> {
    const r = await this.reader.runAndReadAll('SELECT body FROM runs');
    return r.getRows().map((row) => String(row[0]));
  }

  async loadInbox(): Promise<InboxEntry[]> {
    const r = await this.reader.runAndReadAll('SELECT id, received_ms, encoding, body, batches FROM inbox ORDER BY id');
    return r.getRows().map((row) => ({
      id: Number(row[0]),
      receivedMs: Number(row[1]),
      encoding: String(row[2]),
      body: Buffer.from((row[3] as DuckDBBlobValue).bytes),
      batches: JSON.parse(String(row[4])) as InboxEntry['batches'],
    }));
  }

  /** Accepts a request's batches durably: its body into the inbox, with the runs' state, in one transaction. */
  accept(entry: InboxEntry | undefined, runs: Array<{ agent: string; start: string; body: string }>): Promise<void> {
    return this.writes.run(async () => {
      await this.writer.run('BEGIN TRANSACTION');
      try {
        for (const r of runs) await this.writer.run('INSERT OR REPLACE INTO runs VALUES ($1, $2, $3)', [r.agent, r.start, r.body]);
        if (entry) {
          const a = await this.writer.createAppender('inbox');
          a.appendBigInt(BigInt(entry.id));
          a.appendBigInt(BigInt(entry.receivedMs));
          a.appendVarchar(entry.encoding);
          a.appendBlob(entry.body);
          a.appendVarchar(JSON.stringify(entry.batches));
          a.endRow();
          a.closeSync();
        }
        await this.writer.run('COMMIT');
      } catch (err) {
        await this.writer.run('ROLLBACK').catch(() => undefined);
        throw err;
      }
    });
  }

  /** Writes joined samples (and new dictionary entries) and takes the requests whose batches are all joined out of the inbox, in one transaction. */
  write(samples: readonly SampleRow[] | SampleBlock, doneRequests: number[], endpoints: ArrayLike<Endpoint>, edges: ArrayLike<FineEdge>): Promise<void> {
    const rows = samples instanceof SampleBlock ? samples : SampleBlock.from(samples);
    return this.writes.run(async () => {
      await this.writer.run('BEGIN TRANSACTION');
      try {
        await this.saveDictionaries(endpoints, edges);
        if (rows.size) await appendSamples(this.writer, 'samples', rows);
        // A late agent's samples inside minutes already rolled up go into the roll-ups too.
        const rolledTo = this.rolledTo;
        const late = rows.select((t) => t <= rolledTo, (t) => Math.ceil(t / MINUTE) * MINUTE);
        if (late.size) {
          await appendSamples(this.writer, 'minutes', late);
          await this.dropFivesOf(new Set(late.t.subarray(0, late.size)));
        }
        if (doneRequests.length) await this.writer.run(`DELETE FROM inbox WHERE id IN (${doneRequests.join(',')})`);
        await this.writer.run('COMMIT');
        if (rows.size) {
          let earliest = Infinity;
          for (let r = 0; r < rows.size; r++) earliest = Math.min(earliest, rows.t[r]!);
          this.staleFrom(earliest);
          this.writeSeq++;
          // In the write's turn, before anything else reads or writes: listeners see each row once.
          for (const l of this.written) l(rows);
        }
      } catch (err) {
        await this.writer.run('ROLLBACK').catch(() => undefined);
        this.savedEndpoints = Math.min(this.savedEndpoints, (await this.count('endpoints')) ?? 0);
        this.savedEdges = Math.min(this.savedEdges, (await this.count('edges')) ?? 0);
        throw err;
      }
    });
  }

  /**
   * Takes the `fives` rows whose span holds any of these minutes out (made again by maintenance).
   * Queries stop using them before the delete commits: until then they read minutes.
   */
  private async dropFivesOf(minutes: ReadonlySet<number>): Promise<void> {
    const stale: number[] = [];
    for (const m of minutes) for (let t = m; t < m + FIVE; t += MINUTE) if (this.fives.delete(t)) stale.push(t);
    if (stale.length === 0) return;
    this.fivesDrops++;
    // Windows that read them end at or after them.
    this.staleFrom(Math.min(...stale));
    for (const table of ['fives', 'fives_hist']) await this.writer.run(`DELETE FROM ${table} WHERE t IN (${stale.join(',')})`);
  }

  /**
   * Makes the missing `fives` rows of the rolled-up minutes from `from` on (at most `limit`, oldest
   * first), each in its own transaction. Returns how many it made.
   */
  private async makeFives(from: number, limit: number): Promise<number> {
    let made = 0;
    for (let t = Math.ceil(from / MINUTE) * MINUTE; t <= this.rolledTo && made < limit; t += MINUTE) {
      if (this.fives.has(t)) continue;
      await this.writer.run('BEGIN TRANSACTION');
      try {
        await rollUpFive(this.writer, t);
        await this.writer.run('COMMIT');
      } catch (err) {
        await this.writer.run('ROLLBACK').catch(() => undefined);
        throw err;
      }
      this.fives.add(t);
      made++;
    }
    return made;
  }

  /** Called with the samples of each write, once committed, before the next write or exclusive task. */
  onWritten(listener: (rows: SampleBlock) => void): () => void {
    this.written.add(listener);
    return () => this.written.delete(listener);
  }

  /** Runs `fn` between writes (nothing is written while it runs), with the writer's connection. */
  exclusive<T>(fn: (connection: DuckDBConnection) => Promise<T>): Promise<T> {
    return this.writes.run(() => fn(this.writer));
  }

  /** Reads the samples with from < t <= to back (on `connection`, default the reader's): buckets first, then rows. */
  scanSamples(from: number, to: number, visit: RowReader, connection: DuckDBConnection = this.reader): Promise<number> {
    return readSamples(connection, from, to, visit);
  }

  /** Per edge and side, what the samples after `from` hold (what a live window starts from), and how many rows each time has. */
  async windowState(from: number, connection: DuckDBConnection = this.reader): Promise<{ states: WindowState[]; times: Array<[number, number]> }> {
    const table = new RowsTable();
    const only = (hist: boolean): string => `SELECT t, edge, side, ${hist ? 'b, n' : DENSE_SELECT} FROM samples${hist ? '_hist' : ''} WHERE t > ${from}`;
    await sumWindow(connection, { dense: only(false), hist: only(true) }, table, true);
    const states: WindowState[] = [];
    for (let r = 0; r < table.size; r++) states.push({ edge: table.edges[r]!, side: table.sides[r]!, values: table.values.subarray(r * WIDTH, (r + 1) * WIDTH), rows: table.counts[r]!, lastT: table.lastT[r]! });
    const t = await connection.runAndReadAll(`SELECT CAST(t AS DOUBLE), CAST(count(*) AS DOUBLE) FROM samples WHERE t > ${from} GROUP BY t ORDER BY t`);
    const times = t.getRows().map((row) => [Number(row[0]), Number(row[1])] as [number, number]);
    return { states, times };
  }

  private async count(table: string): Promise<number | undefined> {
    const r = await this.writer.runAndReadAll(`SELECT count(*) FROM ${table}`).catch(() => undefined);
    return r ? Number(r.getRows()[0]![0]) : undefined;
  }

  // --- queries --------------------------------------------------------------------------------

  private sources(w: Window, edges?: readonly number[], fives = true) {
    return sources(w, this.rolledTo, this.samplesFloor, edges, '', fives ? this.fives : undefined);
  }

  /** Each edge's counters over the window, per side, as rows in one array, narrow when the window counted no requests (only those `edges` when given; without `fives`, from minutes and samples only). */
  async totalsTable(w: Window, edges?: readonly number[], fives = true): Promise<RowsTable> {
    for (let attempt = 0; ; attempt++) {
      const drops = this.fivesDrops;
      const out = new RowsTable();
      // Read again when fives were taken out meanwhile (the query may have named them); the last time without them.
      await sumWindow(this.reader, this.sources(w, edges, fives && attempt < 2), out, false, true);
      if (this.fivesDrops === drops || !fives || attempt >= 2) return out;
    }
  }

  /**
   * The window's rows as totalsTable gives them (every edge), kept for the next asks of the same
   * window from its second read on: the last `keptWindows` windows read twice are answered without
   * reading again while no write, roll-up change or expiry touches what they read.
   */
  async windowRows(w: Window): Promise<WindowRows> {
    if (this.keptWindows <= 0) {
      const table = await this.totalsTable(w);
      return { table, release: () => table.recycle() };
    }
    const src = this.sources(w);
    const key = `${src.dense}\n${src.hist}`;
    const hit = this.kept.find((k) => k.valid && !k.reading && k.key === key);
    if (hit) {
      hit.users++;
      // Most recent last.
      this.kept.splice(this.kept.indexOf(hit), 1);
      this.kept.push(hit);
      return { table: hit.table, release: () => this.unuse(hit) };
    }
    if (!this.readOnce.includes(key)) {
      this.readOnce.push(key);
      if (this.readOnce.length > 4 * this.keptWindows) this.readOnce.shift();
      const table = await this.totalsTable(w);
      return { table, release: () => table.recycle() };
    }
    this.readOnce.splice(this.readOnce.indexOf(key), 1);
    // The same window kept under other sources (before a roll-up changed what it reads) is of no more use.
    for (const k of [...this.kept]) if (k.from === w.from && k.to === w.to) this.unkeep(k);
    // Room for this one: the oldest go (their buffers are the spare this read fills).
    while (this.kept.length >= this.keptWindows) this.unkeep(this.kept[0]!);
    const entry: KeptWindow = { key, from: w.from, to: w.to, table: new RowsTable(), users: 1, valid: true, reading: true };
    this.kept.push(entry);
    try {
      entry.table = await this.totalsTable(w);
    } catch (err) {
      this.unkeep(entry);
      throw err;
    } finally {
      entry.reading = false;
    }
    // Kept only when nothing it read changed meanwhile, and what a read would read is still the same.
    const now = this.sources(w);
    if (entry.valid && `${now.dense}\n${now.hist}` !== key) this.unkeep(entry);
    return { table: entry.table, release: () => this.unuse(entry) };
  }

  private unuse(k: KeptWindow): void {
    k.users--;
    if (!k.valid && k.users === 0) k.table.recycle();
  }

  /** Out of `kept`: stale, its buffer recycled once no answer reads it. */
  private unkeep(k: KeptWindow): void {
    const i = this.kept.indexOf(k);
    if (i >= 0) this.kept.splice(i, 1);
    if (!k.valid) return;
    k.valid = false;
    if (k.users === 0 && !k.reading) k.table.recycle();
  }

  /** Kept windows that end at or after `t` are stale (a write there may change their rows). */
  private staleFrom(t: number): void {
    for (const k of [...this.kept]) if (k.to >= t) this.unkeep(k);
  }

  /** Each edge's counters over the window, per side (only those `edges` when given). */
  async totals(w: Window, edges?: readonly number[]): Promise<TotalsByEdge> {
    const table = await this.totalsTable(w, edges);
    const out: TotalsByEdge = new Map();
    for (let r = 0; r < table.size; r++) {
      const id = table.edges[r]!;
      let pair = out.get(id);
      if (!pair) out.set(id, (pair = [undefined, undefined]));
      pair[table.sides[r] === 0 ? 0 : 1] = sideCopy(table.values, r * table.stride);
    }
    return out;
  }

  /** The selected edges' counters summed per step (steps end at from + k * step). */
  async series(w: Window, stepMs: number, edges: number[]): Promise<Map<number, [Side | undefined, Side | undefined]>> {
    if (edges.length === 0) return new Map();
    // Steps may be shorter than five minutes: minutes and samples only.
    return sumSteps(this.reader, this.sources(w, edges, false), w, stepMs);
  }

  /** The time of the oldest data queries can reach. */
  async oldest(): Promise<number | undefined> {
    const r = await this.reader.runAndReadAll('SELECT least((SELECT min(t) FROM minutes), (SELECT min(t) FROM samples))');
    const v = r.getRows()[0]?.[0];
    return v === null || v === undefined ? undefined : Number(v);
  }

  // --- maintenance ----------------------------------------------------------------------------

  /**
   * Rolls up whole minutes up to `finalTo` (everything up to it is joined and written), exports
   * finished hours to Parquet, drops samples past their hour and anything past the retention.
   */
  maintain(nowMs: number, finalTo: number): Promise<{ rolled: number; fives: number; exported: string[]; removed: string[] }> {
    return this.writes.run(async () => {
      const result = { rolled: 0, fives: 0, exported: [] as string[], removed: [] as string[] };
      const target = Math.floor(finalTo / MINUTE) * MINUTE;
      const first = await this.firstSample();
      if (target > this.rolledTo && first === Number.MAX_SAFE_INTEGER) {
        this.rolledTo = target;
        await this.writer.run('INSERT OR REPLACE INTO meta VALUES ($1, $2)', ['rolled_to', String(target)]);
      } else if (target > this.rolledTo) {
        const from = this.rolledTo || Math.floor((first - 1) / MINUTE) * MINUTE;
        await this.writer.run('BEGIN TRANSACTION');
        try {
          await rollUp(this.writer, from, target);
          await this.writer.run('INSERT OR REPLACE INTO meta VALUES ($1, $2)', ['rolled_to', String(target)]);
          await this.writer.run('COMMIT');
          result.rolled = target - from;
          this.rolledTo = target;
        } catch (err) {
          await this.writer.run('ROLLBACK').catch(() => undefined);
          throw err;
        }
      }
      // Five-minute sums for the whole minutes as far back as samples are kept (what windows not ending now read).
      const fivesKeptAfter = nowMs - this.samplesMs;
      if (first !== Number.MAX_SAFE_INTEGER) result.fives = await this.makeFives(Math.max(fivesKeptAfter + 1, first), this.fivesPerMaintain);
      // Hours whose every sample is final go to Parquet.
      let hour = this.exportedTo || Math.floor((first - 1) / HOUR) * HOUR;
      while (hour + HOUR <= target && hour + HOUR <= this.rolledTo) {
        const path = join(this.parquetDir, `samples-${new Date(hour).toISOString().slice(0, 13).replace(/[-:]/g, '')}.parquet`);
        await this.writer.run(`COPY (${this.exportQuery(hour, hour + HOUR)}) TO '${path.replace(/'/g, "''")}' (FORMAT parquet, COMPRESSION zstd)`);
        hour += HOUR;
        this.exportedTo = hour;
        await this.writer.run('INSERT OR REPLACE INTO meta VALUES ($1, $2)', ['exported_to', String(hour)]);
        result.exported.push(path);
      }
      // Interval resolution is kept for samplesMs, and only for what is in Parquet already.
      const floor = Math.min(this.exportedTo, Math.floor((nowMs - this.samplesMs) / HOUR) * HOUR, Math.floor(this.keepSamplesFrom() / HOUR) * HOUR);
      if (floor > this.samplesFloor) {
        for (const k of [...this.kept]) if (k.from < floor) this.unkeep(k);
        await deleteUpTo(this.writer, 'samples', floor);
        this.samplesFloor = floor;
        await this.writer.run('INSERT OR REPLACE INTO meta VALUES ($1, $2)', ['samples_floor', String(floor)]);
      }
      const expired = nowMs - this.options.retentionMs;
      // Windows reaching back past the retention lose rows.
      for (const k of [...this.kept]) if (k.from < expired) this.unkeep(k);
      await deleteUpTo(this.writer, 'minutes', expired);
      // Five-minute sums go with the samples: windows older than that read minutes.
      if ([...this.fives].some((t) => t <= fivesKeptAfter)) {
        for (const t of this.fives) if (t <= fivesKeptAfter) this.fives.delete(t);
        this.fivesDrops++;
        for (const k of [...this.kept]) if (k.from < fivesKeptAfter) this.unkeep(k);
        await deleteUpTo(this.writer, 'fives', fivesKeptAfter);
      }
      for (const name of readdirSync(this.parquetDir)) {
        const m = /^samples-(\d{8})T(\d{2})\.parquet$/.exec(name);
        if (!m) continue;
        const start = Date.parse(`${m[1]!.slice(0, 4)}-${m[1]!.slice(4, 6)}-${m[1]!.slice(6, 8)}T${m[2]}:00:00Z`);
        if (start + HOUR <= expired) {
          rmSync(join(this.parquetDir, name), { force: true });
          result.removed.push(name);
        }
      }
      return result;
    });
  }

  private async firstSample(): Promise<number> {
    const r = await this.writer.runAndReadAll('SELECT min(t) FROM samples');
    const v = r.getRows()[0]?.[0];
    return v === null || v === undefined ? Number.MAX_SAFE_INTEGER : Number(v);
  }

  /** One hour of samples with both ends spelled out: the Parquet files' columns. */
  private exportQuery(from: number, to: number): string {
    const ends = (alias: string, prefix: string): string => [...ENDPOINT_COLUMNS, 'labels'].map((c) => `${alias}.${c} AS ${prefix}_${c}`).join(', ');
    return `SELECT epoch_ms(s.t) AS time, s.dur AS duration_ms, CASE s.side WHEN 0 THEN 'client' ELSE 'server' END AS side,
        e.port, e.protocol, ${ends('c', 'client')}, ${ends('v', 'server')}, ${COLUMNS.map((c) => `s.${c}`).join(', ')}
      FROM (${exportRows(from, to)}) s JOIN edges e ON e.id = s.edge JOIN endpoints c ON c.id = e.client JOIN endpoints v ON v.id = e.server
      ORDER BY s.t`;
  }

  /** Bytes on disk: the database, its write-ahead log and the Parquet files. */
  diskBytes(): number {
    let n = 0;
    for (const f of [this.file, `${this.file}.wal`]) {
      try {
        n += statSync(f).size;
      } catch {
        // absent
      }
    }
    try {
      for (const name of readdirSync(this.parquetDir)) n += statSync(join(this.parquetDir, name)).size;
    } catch {
      // absent
    }
    return n;
  }

  async rowCounts(): Promise<Record<string, number>> {
    const r = await this.reader.runAndReadAll('SELECT (SELECT count(*) FROM samples), (SELECT count(*) FROM minutes), (SELECT count(*) FROM edges), (SELECT count(*) FROM endpoints), (SELECT count(*) FROM inbox)');
    const row = r.getRows()[0]!;
    return { samples: Number(row[0]), minutes: Number(row[1]), edges: Number(row[2]), endpoints: Number(row[3]), inbox: Number(row[4]) };
  }

  /** Another connection to the database, for a part of the hub that keeps its own tables (alerts). */
  connect(): Promise<DuckDBConnection> {
    return this.instance.connect();
  }

  async checkpoint(): Promise<void> {
    await this.writes.run(() => this.writer.run('CHECKPOINT'));
  }

  async close(): Promise<void> {
    await this.writes.run(async () => {
      await this.writer.run('CHECKPOINT').catch(() => undefined);
    });
    this.reader.closeSync();
    this.writer.closeSync();
    this.instance.closeSync();
  }
}
