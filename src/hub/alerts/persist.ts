// The engine's state in the hub's store (its DuckDB database), so that a restart neither forgets
// what is normal for an edge nor raises what is already raised:
//   alert_parts        the windows and baselines, binary, in 1 MiB rows written with DuckDB's
//                      appender (binding large BLOBs as parameters is ten times slower), replaced
//                      on each save;
//   alert_slots        what each edge (and DNS client) slot is, added as slots are made;
//   alert_known_edges  the edges learned as dependencies, added as they come;
//   alert_state        small JSON values: what the binary parts are shaped by, incidents,
//                      silences, and what each receiver was sent.
import { blobValueFromBytes, type DuckDBConnection } from '@duckdb/node-api';
import type { AlertEngine } from './engine/engine.js';
import type { EdgeSlot } from './engine/edge-health.js';
import type { DnsSlot } from './engine/dns-health.js';
import type { Incident } from './engine/incidents.js';
import type { Silence } from './silences.js';
import type { SavedReceivers } from './notify/receivers.js';

/** Bumped when the saved layout changes: an older state is then left aside and learning starts over. */
const STATE_VERSION = 2;
const CHUNK = 1 << 20;
const PARTS_TABLE = 'CREATE TABLE alert_parts (key VARCHAR, seq INTEGER, value BLOB)';

type EdgeSlotInfo = Omit<EdgeSlot, 'index' | 'override'>;
type DnsSlotInfo = Omit<DnsSlot, 'index' | 'override' | 'lastDataMs'>;

export interface SavedMeta {
  version: number;
  savedMs: number;
  learningStartMs: number;
  /** What the binary parts were shaped by: a changed configuration makes them unusable. */
  shape: string;
  /** How many slots the binary parts cover. */
  edgeSlots: number;
  dnsSlots: number;
  currents: { shortBurn: number; longBurn: number; anomaly: number; dns: number };
}

export interface SavedState {
  meta: SavedMeta;
  parts: Record<string, Uint8Array>;
  incidents: { active: Incident[]; history: Incident[] };
  silences: Silence[];
  receivers: SavedReceivers;
  /** Slots made since the last save (when saving), or all of them (when loaded). */
  edgeSlots: EdgeSlotInfo[];
  dnsSlots: DnsSlotInfo[];
}

/** The configuration that decides the binary layout. */
export function stateShape(engine: AlertEngine): string {
  const e = engine.edges;
  return JSON.stringify({
    v: STATE_VERSION,
    view: engine.config.view,
    short: [e.shortBurn.widthMs, ...e.shortBurn.windows],
    long: [e.longBurn.widthMs, ...e.longBurn.windows],
    anomaly: [e.anomaly.widthMs, ...e.anomaly.windows],
    points: engine.config.baseline.points,
  });
}

/** A copy of the engine's state; slot descriptions only from the given counts on (those already saved are kept). */
export function captureState(engine: AlertEngine, receivers: SavedReceivers, nowMs: number, saved = { edge: 0, dns: 0 }): SavedState {
  const e = engine.edges;
  const n = e.slots.length;
  const d = engine.dns;
  const dn = d.slots.length;
  const short = e.shortBurn.snapshot(n);
  const long = e.longBurn.snapshot(n);
  const anomaly = e.anomaly.snapshot(n);
  const dnsWindow = d.window.snapshot(dn);
  return {
    meta: {
      version: STATE_VERSION,
      savedMs: nowMs,
      learningStartMs: engine.learningStartMs,
      shape: stateShape(engine),
      edgeSlots: n,
      dnsSlots: dn,
      currents: { shortBurn: short.cur, longBurn: long.cur, anomaly: anomaly.cur, dns: dnsWindow.cur },
    },
    parts: {
      short_burn: short.ring,
      long_burn: long.ring,
      anomaly: anomaly.ring,
      baselines: e.baselines.snapshot(n),
      dns_window: dnsWindow.ring,
      dns_baselines: d.baselines.snapshot(dn),
    },
    incidents: engine.incidents.toJSON(),
    silences: engine.silences.toJSON(),
    receivers,
    edgeSlots: e.slots.slice(saved.edge).map((s) => ({ id: s.id, source: s.source, target: s.target, port: s.port, scope: s.scope, external: s.external, firstSeenMs: s.firstSeenMs, members: s.members })),
    dnsSlots: d.slots.slice(saved.dns).map((s) => ({ id: s.id, client: s.client, server: s.server, scope: s.scope, firstSeenMs: s.firstSeenMs })),
  };
}

/**
 * Puts a saved state back into a fresh engine. Incidents, silences and slots always come back;
 * windows and baselines only when the configuration that shaped them is the same. Returns what
 * could not be restored.
 */
export function applyState(engine: AlertEngine, s: SavedState): string[] {
  const problems: string[] = [];
  engine.learningStartMs = s.meta.learningStartMs;
  engine.silences.restore(s.silences);
  for (const slot of s.edgeSlots) engine.edges.addSlot(slot);
  for (const slot of s.dnsSlots) engine.dns.addSlot(slot);
  const n = s.edgeSlots.length;
  const dn = s.dnsSlots.length;
  const sameShape = s.meta.shape === stateShape(engine);
  if (!sameShape) problems.push('the alerts configuration changed the windows or the history kept: windows and baselines start over');
  else if (n !== s.meta.edgeSlots || dn !== s.meta.dnsSlots) problems.push(`the saved windows cover ${s.meta.edgeSlots} edges, the saved slots ${n}: windows and baselines start over`);
  else {
    const e = engine.edges;
    const part = (k: string): Uint8Array => s.parts[k] ?? new Uint8Array(0);
    const ok =
      e.shortBurn.restore({ cur: s.meta.currents.shortBurn, ring: part('short_burn') }, n) &&
      e.longBurn.restore({ cur: s.meta.currents.longBurn, ring: part('long_burn') }, n) &&
      e.anomaly.restore({ cur: s.meta.currents.anomaly, ring: part('anomaly') }, n) &&
      e.baselines.restore(part('baselines'), n) &&
      engine.dns.window.restore({ cur: s.meta.currents.dns, ring: part('dns_window') }, dn) &&
      engine.dns.baselines.restore(part('dns_baselines'), dn);
    if (!ok) problems.push('saved windows or baselines do not fit: they start over');
    for (let slot = 0; slot < n; slot++) e.updateBands(slot);
  }
  engine.incidents.restore(s.incidents);
  engine.attachRestored();
  return problems;
}

const yieldNow = (): Promise<void> => new Promise((r) => setImmediate(r));

/** The state tables in the hub's DuckDB database. */
export class DuckAlertState {
  /** Slots whose description is in alert_slots already. */
  readonly saved = { edge: 0, dns: 0 };

  private constructor(private readonly db: DuckDBConnection) {}

  static async open(connect: () => Promise<DuckDBConnection>): Promise<DuckAlertState> {
    const db = await connect();
    await db.run('CREATE TABLE IF NOT EXISTS alert_state (key VARCHAR PRIMARY KEY, value BLOB, saved_ms BIGINT)');
    await db.run(PARTS_TABLE.replace('CREATE TABLE', 'CREATE TABLE IF NOT EXISTS'));
    await db.run('CREATE TABLE IF NOT EXISTS alert_slots (kind VARCHAR, slot INTEGER, info VARCHAR)');
    await db.run('CREATE TABLE IF NOT EXISTS alert_known_edges (edge VARCHAR PRIMARY KEY, first_seen_ms BIGINT)');
    return new DuckAlertState(db);
  }

  private async rows(sql: string): Promise<unknown[][]> {
    return (await this.db.runAndReadAll(sql)).getRows() as unknown[][];
  }

  async load(): Promise<{ state?: SavedState; known: Array<[string, number]> }> {
    const known = (await this.rows('SELECT edge, first_seen_ms FROM alert_known_edges')).map(([e, t]) => [String(e), Number(t)] as [string, number]);
    const values = new Map<string, Uint8Array>();
    for (const [k, v] of await this.rows('SELECT key, value FROM alert_state')) values.set(String(k), (v as { bytes: Uint8Array }).bytes);
    const json = <T>(k: string, fallback: T): T => (values.has(k) ? (JSON.parse(Buffer.from(values.get(k)!).toString('utf8')) as T) : fallback);
    const meta = json<SavedMeta | undefined>('meta', undefined);
    const slots = await this.rows('SELECT kind, info FROM alert_slots ORDER BY kind, slot');
    const edgeSlots = slots.filter(([k]) => k === 'edge').map(([, i]) => JSON.parse(String(i)) as EdgeSlotInfo);
    const dnsSlots = slots.filter(([k]) => k === 'dns').map(([, i]) => JSON.parse(String(i)) as DnsSlotInfo);
    this.saved.edge = edgeSlots.length;
    this.saved.dns = dnsSlots.length;
    if (!meta || meta.version !== STATE_VERSION) return { known };
    const chunks = new Map<string, Uint8Array[]>();
    for (const [k, , v] of await this.rows('SELECT key, seq, value FROM alert_parts ORDER BY key, seq')) {
      const list = chunks.get(String(k)) ?? [];
      list.push((v as { bytes: Uint8Array }).bytes);
      chunks.set(String(k), list);
    }
    const parts: Record<string, Uint8Array> = {};
    for (const [k, list] of chunks) parts[k] = Buffer.concat(list);
    return {
      known,
      state: {
        meta,
        parts,
        incidents: json('incidents', { active: [], history: [] }),
        silences: json('silences', []),
        receivers: json('receivers', {}),
        edgeSlots,
        dnsSlots,
      },
    };
  }

  /** Writes a captured state (and the learned edges not yet written) in one transaction; returns the bytes written. */
  async save(s: SavedState, newKnown: ReadonlyArray<readonly [string, number]>): Promise<number> {
    let bytes = 0;
    await this.db.run('BEGIN TRANSACTION');
    try {
      for (const [k, v] of [
        ['meta', s.meta],
        ['incidents', s.incidents],
        ['silences', s.silences],
        ['receivers', s.receivers],
      ] as const) {
        const b = Buffer.from(JSON.stringify(v));
        bytes += b.byteLength;
        await this.db.run('INSERT OR REPLACE INTO alert_state VALUES ($1, $2, $3)', [k, blobValueFromBytes(b), s.meta.savedMs]);
      }
      // A new table rather than a DELETE of every row: five times quicker for 100 MB of rows.
      await this.db.run('DROP TABLE alert_parts');
      await this.db.run(PARTS_TABLE);
      const parts = await this.db.createAppender('alert_parts');
      for (const [k, v] of Object.entries(s.parts)) {
        for (let at = 0, seq = 0; at < v.byteLength; at += CHUNK, seq++) {
          parts.appendVarchar(k);
          parts.appendInteger(seq);
          parts.appendBlob(v.subarray(at, at + CHUNK));
          parts.endRow();
          bytes += Math.min(CHUNK, v.byteLength - at);
          // Other work of the hub goes on between chunks (the parts are copies).
          if (seq % 16 === 15) await yieldNow();
        }
      }
      parts.closeSync();
      const slots = await this.db.createAppender('alert_slots');
      const addSlots = (kind: string, from: number, list: unknown[]): void => {
        list.forEach((info, i) => {
          slots.appendVarchar(kind);
          slots.appendInteger(from + i);
          slots.appendVarchar(JSON.stringify(info));
          slots.endRow();
        });
      };
      addSlots('edge', this.saved.edge, s.edgeSlots);
      addSlots('dns', this.saved.dns, s.dnsSlots);
      slots.closeSync();
      if (newKnown.length) {
        const a = await this.db.createAppender('alert_known_edges');
        for (const [edge, t] of newKnown) {
          a.appendVarchar(edge);
          a.appendBigInt(BigInt(Math.round(t)));
          a.endRow();
        }
        a.closeSync();
      }
      await this.db.run('COMMIT');
      this.saved.edge += s.edgeSlots.length;
      this.saved.dns += s.dnsSlots.length;
    } catch (err) {
      await this.db.run('ROLLBACK').catch(() => undefined);
      throw err;
    }
    return bytes;
  }

  close(): void {
    this.db.closeSync();
  }
}
