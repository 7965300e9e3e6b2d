// The engine's state in the hub's store, so that a restart neither forgets what is normal for an
// edge nor raises what is already raised: the windows and baselines (binary, one row per part),
// the edges learned as dependencies (a row each, added as they come), incidents, silences and
// what each receiver was sent (JSON).
import { blobValueFromBytes, type DuckDBConnection } from '@duckdb/node-api';
import type { AlertEngine } from './engine/engine.js';
import type { EdgeSlot } from './engine/edge-health.js';
import type { DnsSlot } from './engine/dns-health.js';
import type { Incident } from './engine/incidents.js';
import type { Silence } from './silences.js';
import type { SavedReceivers } from './notify/receivers.js';

/** Bumped when the saved layout changes: an older state is then left aside and learning starts over. */
const STATE_VERSION = 1;

export interface SavedMeta {
  version: number;
  savedMs: number;
  learningStartMs: number;
  /** What the binary parts were shaped by: a changed configuration makes them unusable. */
  shape: string;
  edgeSlots: Array<Omit<EdgeSlot, 'index' | 'override' | 'lastDataMs'>>;
  dnsSlots: Array<Omit<DnsSlot, 'index' | 'override' | 'lastDataMs'>>;
  currents: { shortBurn: number; longBurn: number; anomaly: number; dns: number };
}

export interface SavedState {
  meta: SavedMeta;
  parts: Record<string, Uint8Array>;
  incidents: { active: Incident[]; history: Incident[] };
  silences: Silence[];
  receivers: SavedReceivers;
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

export function captureState(engine: AlertEngine, receivers: SavedReceivers, nowMs: number): SavedState {
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
      edgeSlots: e.slots.map((s) => ({ id: s.id, source: s.source, target: s.target, port: s.port, scope: s.scope, external: s.external, firstSeenMs: s.firstSeenMs, members: s.members })),
      dnsSlots: d.slots.map((s) => ({ id: s.id, client: s.client, server: s.server, scope: s.scope, firstSeenMs: s.firstSeenMs })),
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
  };
}

/**
 * Puts a saved state back into a fresh engine. Incidents, silences and learned edges always come
 * back; windows and baselines only when the configuration that shaped them is the same.
 * Returns what could not be restored.
 */
export function applyState(engine: AlertEngine, s: SavedState): string[] {
  const problems: string[] = [];
  engine.learningStartMs = s.meta.learningStartMs;
  engine.silences.restore(s.silences);
  const sameShape = s.meta.shape === stateShape(engine);
  if (!sameShape) problems.push('the alerts configuration changed the windows or the history kept: windows and baselines start over');
  for (const slot of s.meta.edgeSlots) engine.edges.addSlot(slot);
  for (const slot of s.meta.dnsSlots) engine.dns.addSlot(slot);
  if (sameShape) {
    const n = s.meta.edgeSlots.length;
    const dn = s.meta.dnsSlots.length;
    const e = engine.edges;
    const ok =
      e.shortBurn.restore({ cur: s.meta.currents.shortBurn, ring: s.parts.short_burn! }, n) &&
      e.longBurn.restore({ cur: s.meta.currents.longBurn, ring: s.parts.long_burn! }, n) &&
      e.anomaly.restore({ cur: s.meta.currents.anomaly, ring: s.parts.anomaly! }, n) &&
      e.baselines.restore(s.parts.baselines!, n) &&
      engine.dns.window.restore({ cur: s.meta.currents.dns, ring: s.parts.dns_window! }, dn) &&
      engine.dns.baselines.restore(s.parts.dns_baselines!, dn);
    if (!ok) problems.push('saved windows or baselines do not fit: they start over');
  }
  engine.incidents.restore(s.incidents);
  engine.attachRestored();
  return problems;
}

/** The state tables in the hub's DuckDB database. */
export class DuckAlertState {
  private constructor(private readonly db: DuckDBConnection) {}

  static async open(connect: () => Promise<DuckDBConnection>): Promise<DuckAlertState> {
    const db = await connect();
    await db.run('CREATE TABLE IF NOT EXISTS alert_state (key VARCHAR PRIMARY KEY, value BLOB, saved_ms BIGINT)');
    await db.run('CREATE TABLE IF NOT EXISTS alert_known_edges (edge VARCHAR PRIMARY KEY, first_seen_ms BIGINT)');
    return new DuckAlertState(db);
  }

  async load(): Promise<{ state?: SavedState; known: Array<[string, number]> }> {
    const rows = (await this.db.runAndReadAll('SELECT key, value FROM alert_state')).getRows();
    const byKey = new Map<string, Uint8Array>();
    for (const [k, v] of rows) byKey.set(String(k), (v as { bytes: Uint8Array }).bytes);
    const known = (await this.db.runAndReadAll('SELECT edge, first_seen_ms FROM alert_known_edges')).getRows().map(([e, t]) => [String(e), Number(t)] as [string, number]);
    const metaBytes = byKey.get('meta');
    if (!metaBytes) return { known };
    const json = (k: string): unknown => JSON.parse(Buffer.from(byKey.get(k) ?? Buffer.from('null')).toString('utf8'));
    const meta = json('meta') as SavedMeta;
    if (meta.version !== STATE_VERSION) return { known };
    const parts: Record<string, Uint8Array> = {};
    for (const [k, v] of byKey) if (k.startsWith('part:')) parts[k.slice(5)] = v;
    return {
      known,
      state: {
        meta,
        parts,
        incidents: (json('incidents') as SavedState['incidents'] | null) ?? { active: [], history: [] },
        silences: (json('silences') as Silence[] | null) ?? [],
        receivers: (json('receivers') as SavedReceivers | null) ?? {},
      },
    };
  }

  /** Writes the whole state in one transaction (and the learned edges not yet written). */
  async save(s: SavedState, newKnown: ReadonlyArray<readonly [string, number]>): Promise<number> {
    const rows: Array<[string, Uint8Array]> = [
      ['meta', Buffer.from(JSON.stringify(s.meta))],
      ['incidents', Buffer.from(JSON.stringify(s.incidents))],
      ['silences', Buffer.from(JSON.stringify(s.silences))],
      ['receivers', Buffer.from(JSON.stringify(s.receivers))],
      ...Object.entries(s.parts).map(([k, v]): [string, Uint8Array] => [`part:${k}`, v]),
    ];
    let bytes = 0;
    await this.db.run('BEGIN TRANSACTION');
    try {
      for (const [k, v] of rows) {
        bytes += v.byteLength;
        await this.db.run('INSERT OR REPLACE INTO alert_state VALUES ($1, $2, $3)', [k, blobValueFromBytes(v), s.meta.savedMs]);
      }
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
