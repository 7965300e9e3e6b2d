// The health of every edge of the alerting view: windowed counts (attempts and failures for the
// error budget; round trips, connects, retransmits and resets for anomalies) and each edge's own
// history of those metrics. Fine edges (what the store keeps) are summed into view edges (what
// people get alerts about: checkout -> payments:8080 in the workload view).
import { C, type Side } from '../../graph/counters.js';
import { edgeId } from '../../graph/graph.js';
import { nodeOf, type NodeRef, type View } from '../../graph/views.js';
import { FAIL_REASONS } from '../../../model/edge.js';
import { CONNECT_BUCKETS, RTT_BUCKETS } from '../../../model/distribution.js';
import type { ResolvedEdge } from '../../store/store.js';
import { overrideFor, type EdgeScope, type EndScope } from '../config/match.js';
import type { AlertsConfig, AnomalyRule, Rules, Severity } from '../config/types.js';
import { Baselines } from '../stats/baselines.js';
import { upperBand } from '../stats/robust.js';
import { WindowSet } from '../stats/windows.js';
import { BAD, EDGE_SIGNALS, GOOD, UNKNOWN, type Outcome } from './signals.js';

/** A segment's payload when only bytes are known: the usual MSS on a 1500-byte Ethernet path. */
export const SEGMENT_BYTES = 1448;
/** Segments a connection costs beyond its payload (SYN, FIN and their ACKs, roughly). */
const SEGMENTS_PER_CONNECTION = 3;

// Fields of the burn rings and of the anomaly ring.
const ATTEMPTS = 0;
const FAILED = 1;
const RTT_SUM = 0;
const RTT_COUNT = 1;
const CONNECT_SUM = 2;
const CONNECT_COUNT = 3;
const RETRANSMITS = 4;
const SEGMENTS = 5;
const RESETS = 6;
const CONNECTIONS = 7;
const ANOMALY_FIELDS = 8;

/** The anomaly metrics, in baseline order (EDGE_SIGNALS without failures). */
export const ANOMALY_METRICS = ['rtt', 'connect', 'retransmits', 'resets'] as const;
export type AnomalyMetric = (typeof ANOMALY_METRICS)[number];

export interface EdgeSlot {
  readonly index: number;
  /** The view edge's id (as the graph API names it). */
  readonly id: string;
  readonly source: NodeRef;
  readonly target: NodeRef;
  readonly port: number;
  readonly scope: EdgeScope;
  /** Whether an end is an external peer, and whether it has a DNS name. */
  readonly external: 'no' | 'named' | 'unnamed';
  readonly firstSeenMs: number;
  /** Which rules apply (an override's index, -1: the top level). */
  readonly override: number;
  /** The fine edges' keys (the store's), for explanations. */
  readonly members: string[];
}

/** A burn window pair compiled to ring windows. */
interface CompiledBurn {
  short: number;
  long: number;
  threshold: number;
  severity: Severity;
  burnRate: number;
}

interface CompiledRules {
  rules: Rules;
  burn: CompiledBurn[];
  anomaly: AnomalyRule[];
}

// Where a side's values are in the store's layout (counters.ts); a histogram's sum and count
// follow its buckets.
const RTT_SUM_AT = C.rtt + RTT_BUCKETS.length;
const CONNECT_SUM_AT = C.connect + CONNECT_BUCKETS.length;

// Per touched slot and side, what one interval adds up to (scratch, reused every drain).
const S_OPENED = 0;
const S_CLOSED = 1;
const S_FAILURES = 2;
const S_BYTES = 3;
const S_RETRANSMITS = 4;
const S_RESETS = 5;
const S_RTT_SUM = 6;
const S_RTT_COUNT = 7;
const S_CONNECT_SUM = 8;
const S_CONNECT_COUNT = 9;
const SCRATCH_FIELDS = 10;
const NO_PENDING = -1;

export class EdgeHealth {
  readonly slots: EdgeSlot[] = [];
  private readonly byId = new Map<string, number>();
  private readonly byMember = new Map<string, number>();
  readonly shortBurn: WindowSet;
  readonly longBurn: WindowSet;
  readonly anomaly: WindowSet;
  readonly baselines: Baselines;
  /** Per slot and signal: since when the signal has been bad (ms; 0: it is not). */
  pendingSince: Float64Array;
  private readonly compiled: CompiledRules[];
  /** Compiled rules per override index + 1. */
  private readonly view: View;
  /** Data older than the rings hold, or for edges that could not be placed. */
  dropped = 0;
  /** View edges made since the engine last looked (it decides whether they are new dependencies). */
  readonly created: number[] = [];
  /** Per slot and metric: the upper band, kept with the baselines (NaN: too little history). */
  private uppers: Float32Array;
  /** Per slot: its row in the scratch while an interval is being added, the bucket and time of that interval. */
  private pendingRow: Int32Array;
  private pendingBucket: Float64Array;
  private pendingT: Float64Array;
  private readonly touched: number[] = [];
  /** Two rows (client, server) of SCRATCH_FIELDS per touched slot, and which of them got data. */
  private scratch = new Float64Array(1024 * 2 * SCRATCH_FIELDS);
  private hasSide = new Uint8Array(1024 * 2);
  /** Interned view nodes: one object per node however many edges it has. */
  private readonly refs = new Map<string, NodeRef>();
  private readonly scopes = new Map<string, EndScope>();
  /** Per slot: its windows changed since it was last judged (new data, a bucket moved, a new band). */
  dirty = new Uint8Array(1024);
  /** Per slot: which compiled rules apply (its override's index + 1), and the end of its latest interval (ms). */
  private ruleIndex = new Int16Array(1024);
  private lastData = new Float64Array(1024);
  private readonly shortMs: number;
  /** Fine edge number to slot (-1: not seen yet), the fast way to a slot. */
  private fineToSlot = new Int32Array(1024).fill(NO_PENDING);

  constructor(
    private readonly config: AlertsConfig,
    view: View,
  ) {
    this.view = view;
    const { shortMs, longMs } = config.resolution;
    this.shortMs = shortMs;
    const all = [config.rules, ...config.overrides.map((o) => o.rules)];
    const shorts = [...new Set(all.flatMap((r) => r.failures.windows.map((w) => Math.max(1, Math.round(w.shortMs / shortMs)))))].sort((a, b) => a - b);
    const longs = [...new Set(all.flatMap((r) => r.failures.windows.map((w) => Math.max(1, Math.round(w.longMs / longMs)))))].sort((a, b) => a - b);
    this.shortBurn = new WindowSet(shortMs, shorts, 2);
    this.longBurn = new WindowSet(longMs, longs, 2);
    this.anomaly = new WindowSet(shortMs, [Math.max(1, Math.round(config.baseline.windowMs / shortMs))], ANOMALY_FIELDS);
    this.baselines = new Baselines(ANOMALY_METRICS.length, config.baseline.points);
    this.pendingSince = new Float64Array(1024 * EDGE_SIGNALS.length);
    this.uppers = new Float32Array(1024 * ANOMALY_METRICS.length).fill(NaN);
    this.pendingRow = new Int32Array(1024).fill(NO_PENDING);
    this.pendingBucket = new Float64Array(1024);
    this.pendingT = new Float64Array(1024);
    this.compiled = all.map((rules) => ({
      rules,
      burn: rules.failures.windows.map((w) => ({
        short: shorts.indexOf(Math.max(1, Math.round(w.shortMs / shortMs))),
        long: longs.indexOf(Math.max(1, Math.round(w.longMs / longMs))),
        threshold: w.burnRate * (1 - rules.failures.objective),
        severity: w.severity,
        burnRate: w.burnRate,
      })),
      anomaly: [rules.rtt, rules.connect, rules.retransmits, rules.resets],
    }));
  }

  /** Bytes of window and history state per edge. */
  get bytesPerSlot(): number {
    return this.shortBurn.bytesPerSlot + this.longBurn.bytesPerSlot + this.anomaly.bytesPerSlot + this.baselines.bytesPerSlot + EDGE_SIGNALS.length * 8 + ANOMALY_METRICS.length * 4 + 4 + 16;
  }

  rulesOf(slot: number): Rules {
    return this.compiled[this.ruleIndex[slot]!]!.rules;
  }

  slotById(id: string): number | undefined {
    return this.byId.get(id);
  }

  /** The slot a fine edge (by its store key) is counted in. */
  slotOfMember(key: string): number | undefined {
    return this.byMember.get(key);
  }

  /** One namespace/workload object per view node. */
  private endScope(node: string, e: { namespace: string; workload: string }): EndScope {
    let s = this.scopes.get(node);
    if (!s) this.scopes.set(node, (s = { namespace: e.namespace, workload: e.workload }));
    return s;
  }

  private intern(r: NodeRef): NodeRef {
    const known = this.refs.get(r.id);
    if (known) return known;
    this.refs.set(r.id, r);
    return r;
  }

  /** The slot of a fine edge, made when its view edge is new (then listed in `created`; first seen at seenMs). */
  slotOf(edge: ResolvedEdge, seenMs: number): number {
    const known = this.byMember.get(edge.key);
    if (known !== undefined) return known;
    const source = this.intern(nodeOf(edge.client, this.view));
    const target = this.intern(nodeOf(edge.server, this.view));
    const id = edgeId(this.view, source.id, target.id, edge.port);
    let slot = this.byId.get(id);
    if (slot === undefined) {
      const scope: EdgeScope = { client: this.endScope(source.id, edge.client), server: this.endScope(target.id, edge.server), port: edge.port };
      const ext = edge.client.kind === 'external' ? edge.client : edge.server.kind === 'external' ? edge.server : undefined;
      slot = this.addSlot({ id, source, target, port: edge.port, scope, external: ext ? (ext.dns ? 'named' : 'unnamed') : 'no', firstSeenMs: seenMs });
      this.created.push(slot);
    }
    this.byMember.set(edge.key, slot);
    this.slots[slot]!.members.push(edge.key);
    return slot;
  }

  /** Adds a slot (restored ones come in their saved order). */
  addSlot(s: Omit<EdgeSlot, 'index' | 'members' | 'override'> & { members?: string[] }): number {
    const index = this.slots.length;
    const override = overrideFor(this.config, s.scope);
    const slot: EdgeSlot = { ...s, index, override, members: s.members ?? [] };
    this.slots.push(slot);
    this.byId.set(s.id, index);
    for (const m of slot.members) this.byMember.set(m, index);
    const n = this.slots.length;
    this.shortBurn.ensure(n);
    this.longBurn.ensure(n);
    this.anomaly.ensure(n);
    this.baselines.ensure(n);
    if (this.pendingRow.length < n) {
      const cap = this.pendingRow.length * 2;
      this.pendingSince = grow(this.pendingSince, cap * EDGE_SIGNALS.length, 0);
      this.uppers = grow(this.uppers, cap * ANOMALY_METRICS.length, NaN);
      this.pendingRow = grow(this.pendingRow, cap, NO_PENDING);
      this.pendingBucket = grow(this.pendingBucket, cap, 0);
      this.pendingT = grow(this.pendingT, cap, 0);
      this.dirty = grow(this.dirty, cap, 0);
      this.ruleIndex = grow(this.ruleIndex, cap, 0);
      this.lastData = grow(this.lastData, cap, 0);
    }
    this.dirty[index] = 1;
    this.ruleIndex[index] = override + 1;
    return index;
  }

  /** Moves every window to the bucket of `nowMs` (when a bucket moved, every slot is judged again). */
  advance(nowMs: number): void {
    const n = this.slots.length;
    const before = this.shortBurn.currentBucket + this.longBurn.currentBucket + this.anomaly.currentBucket;
    this.shortBurn.advanceTo(this.shortBurn.bucketOf(nowMs), n);
    this.longBurn.advanceTo(this.longBurn.bucketOf(nowMs), n);
    this.anomaly.advanceTo(this.anomaly.bucketOf(nowMs), n);
    if (this.shortBurn.currentBucket + this.longBurn.currentBucket + this.anomaly.currentBucket !== before) this.dirty.fill(1);
  }

  private readonly burnValues = new Float64Array(2);
  private readonly anomalyValues = new Float64Array(ANOMALY_FIELDS);

  /**
   * Adds one side's counters of a fine edge over one interval. Sides of the same view edge and
   * bucket are summed until flush(): the client's and the server's view are needed together.
   */
  add(fine: number, resolve: (fine: number) => ResolvedEdge, side: 0 | 1, values: Side, tMs: number, seenMs: number): void {
    let slot = fine < this.fineToSlot.length ? this.fineToSlot[fine]! : NO_PENDING;
    if (slot === NO_PENDING) {
      slot = this.slotOf(resolve(fine), seenMs);
      if (fine >= this.fineToSlot.length) this.fineToSlot = grow(this.fineToSlot, Math.max(fine + 1, this.fineToSlot.length * 2), NO_PENDING);
      this.fineToSlot[fine] = slot;
    }
    const bucket = Math.floor(tMs / this.shortMs);
    let row = this.pendingRow[slot]!;
    if (row !== NO_PENDING && this.pendingBucket[slot] !== bucket) {
      this.flushSlot(slot, row);
      row = NO_PENDING;
    }
    if (row === NO_PENDING) {
      row = this.touched.length;
      this.touched.push(slot);
      this.pendingRow[slot] = row;
      this.pendingBucket[slot] = bucket;
      this.pendingT[slot] = tMs;
      if (this.hasSide.length < 2 * (row + 1)) {
        this.hasSide = grow(this.hasSide, this.hasSide.length * 2, 0);
        this.scratch = grow(this.scratch, this.scratch.length * 2, 0);
      }
      const x = this.scratch;
      for (let i = row * 2 * SCRATCH_FIELDS, end = i + 2 * SCRATCH_FIELDS; i < end; i++) x[i] = 0;
      this.hasSide[2 * row] = 0;
      this.hasSide[2 * row + 1] = 0;
    } else if (tMs > this.pendingT[slot]!) this.pendingT[slot] = tMs;
    const at = (2 * row + side) * SCRATCH_FIELDS;
    const x = this.scratch;
    this.hasSide[2 * row + side] = 1;
    x[at + S_OPENED]! += values[C.opened]!;
    x[at + S_CLOSED]! += values[C.closed]!;
    let f = 0;
    for (let i = 0; i < FAIL_REASONS.length; i++) f += values[C.failures + i]!;
    x[at + S_FAILURES]! += f;
    x[at + S_BYTES]! += values[C.bytesSent]! + values[C.bytesReceived]!;
    x[at + S_RETRANSMITS]! += values[C.retransmits]!;
    x[at + S_RESETS]! += values[C.resetsSent]! + values[C.resetsReceived]!;
    x[at + S_RTT_SUM]! += values[RTT_SUM_AT]!;
    x[at + S_RTT_COUNT]! += values[RTT_SUM_AT + 1]!;
    x[at + S_CONNECT_SUM]! += values[CONNECT_SUM_AT]!;
    x[at + S_CONNECT_COUNT]! += values[CONNECT_SUM_AT + 1]!;
  }

  /** Folds every pending interval into the windows. */
  flush(): void {
    for (const slot of this.touched) {
      const row = this.pendingRow[slot]!;
      if (row !== NO_PENDING) this.flushSlot(slot, row);
    }
    this.touched.length = 0;
  }

  /** One view edge's interval into its windows: from its client's view where there is one, else its server's. */
  private flushSlot(slot: number, row: number): void {
    this.pendingRow[slot] = NO_PENDING;
    const hasClient = this.hasSide[2 * row] === 1;
    const hasServer = this.hasSide[2 * row + 1] === 1;
    if (!hasClient && !hasServer) return;
    const x = this.scratch;
    const c = 2 * row * SCRATCH_FIELDS;
    const sv = c + SCRATCH_FIELDS;
    const main = hasClient ? c : sv;
    const tMs = this.pendingT[slot]!;
    this.dirty[slot] = 1;
    if (tMs > this.lastData[slot]!) this.lastData[slot] = tMs;
    const attempts = hasClient ? x[c + S_OPENED]! + x[c + S_FAILURES]! : x[sv + S_OPENED]!;
    const b = this.burnValues;
    b[ATTEMPTS] = attempts;
    b[FAILED] = hasClient ? x[c + S_FAILURES]! : 0;
    let ok = this.shortBurn.add(slot, Math.min(this.shortBurn.bucketOf(tMs), this.shortBurn.currentBucket), b);
    ok = this.longBurn.add(slot, Math.min(this.longBurn.bucketOf(tMs), this.longBurn.currentBucket), b) && ok;
    const a = this.anomalyValues;
    // Absent sides are zeros in the scratch.
    a[RTT_SUM] = x[c + S_RTT_SUM]! + x[sv + S_RTT_SUM]!;
    a[RTT_COUNT] = x[c + S_RTT_COUNT]! + x[sv + S_RTT_COUNT]!;
    a[CONNECT_SUM] = x[c + S_CONNECT_SUM]!;
    a[CONNECT_COUNT] = x[c + S_CONNECT_COUNT]!;
    a[RETRANSMITS] = x[c + S_RETRANSMITS]! + x[sv + S_RETRANSMITS]!;
    a[SEGMENTS] = x[main + S_BYTES]! / SEGMENT_BYTES + SEGMENTS_PER_CONNECTION * x[main + S_OPENED]!;
    a[RESETS] = x[main + S_RESETS]!;
    a[CONNECTIONS] = Math.max(attempts, x[main + S_CLOSED]!);
    ok = this.anomaly.add(slot, Math.min(this.anomaly.bucketOf(tMs), this.anomaly.currentBucket), a) && ok;
    if (!ok) this.dropped++;
  }

  /** An anomaly metric over the current window, with the traffic it rests on. */
  current(slot: number, metric: number): { value: number; traffic: number } {
    const w = this.anomaly;
    const sum = (f: number): number => w.sum(slot, 0, f);
    switch (metric) {
      case 0:
        return { value: sum(RTT_SUM) / sum(RTT_COUNT), traffic: sum(RTT_COUNT) };
      case 1:
        return { value: sum(CONNECT_SUM) / sum(CONNECT_COUNT), traffic: sum(CONNECT_COUNT) };
      case 2:
        return { value: sum(RETRANSMITS) / sum(SEGMENTS), traffic: sum(SEGMENTS) };
      default:
        return { value: sum(RESETS) / sum(CONNECTIONS), traffic: sum(CONNECTIONS) };
    }
  }

  /** The band above which a metric is anomalous (NaN: too little history). */
  upper(slot: number, metric: number): number {
    return this.uppers[slot * ANOMALY_METRICS.length + metric]!;
  }

  /** Recomputes a slot's bands from its baselines (after a point is added, or a restore). */
  updateBands(slot: number): void {
    this.dirty[slot] = 1;
    const rules = this.compiled[this.ruleIndex[slot]!]!.anomaly;
    for (let m = 0; m < ANOMALY_METRICS.length; m++) {
      const enough = this.baselines.count(slot, m) >= this.config.baseline.minPoints;
      this.uppers[slot * ANOMALY_METRICS.length + m] = enough ? upperBand(this.baselines.median(slot, m), this.baselines.mad(slot, m), rules[m]!) : NaN;
    }
  }

  /** Each burn window pair of the slot's rules: attempts, failures and burn rates in both windows. */
  burn(slot: number): Array<{ pair: CompiledBurn; shortAttempts: number; shortFailures: number; longAttempts: number; longFailures: number }> {
    const c = this.compiled[this.ruleIndex[slot]!]!;
    return c.burn.map((pair) => ({
      pair,
      shortAttempts: this.shortBurn.sum(slot, pair.short, ATTEMPTS),
      shortFailures: this.shortBurn.sum(slot, pair.short, FAILED),
      longAttempts: this.longBurn.sum(slot, pair.long, ATTEMPTS),
      longFailures: this.longBurn.sum(slot, pair.long, FAILED),
    }));
  }

  /**
   * Judges the slot's signals into `out` (one outcome per EDGE_SIGNALS entry); returns the severity
   * of the worst burn window pair that fired (undefined when none did).
   */
  judge(slot: number, out: Uint8Array): Severity | undefined {
    const c = this.compiled[this.ruleIndex[slot]!]!;
    const f = c.rules.failures;
    let severity: Severity | undefined;
    if (!f.enabled) out[0] = UNKNOWN;
    else {
      let bad = false;
      let good = true;
      const short = this.shortBurn.sumsArray;
      for (const p of c.burn) {
        const at = this.shortBurn.offset(slot, p.short);
        const sa = short[at + ATTEMPTS]!;
        const sf = short[at + FAILED]!;
        const shortJudged = sa >= f.minAttempts;
        const shortBad = shortJudged && sf >= f.minFailures && sf > p.threshold * sa;
        if (!shortJudged) good = false;
        else if (shortBad) {
          good = false;
          const la = this.longBurn.sum(slot, p.long, ATTEMPTS);
          const lf = this.longBurn.sum(slot, p.long, FAILED);
          if (la >= f.minAttempts && lf > p.threshold * la) {
            bad = true;
            if (severity === undefined || SEVERITY_RANK[p.severity] < SEVERITY_RANK[severity]) severity = p.severity;
          }
        }
      }
      out[0] = bad ? BAD : good ? GOOD : UNKNOWN;
    }
    // The anomaly window's sums: (sum, count) pairs for RTT and connect, then retransmits over
    // segments and resets over connections.
    const sums = this.anomaly.sumsArray;
    const at = this.anomaly.offset(slot, 0);
    const uppers = this.uppers;
    const u = slot * ANOMALY_METRICS.length;
    for (let m = 0; m < ANOMALY_METRICS.length; m++) {
      const rule = c.anomaly[m]!;
      const upper = uppers[u + m]!;
      const traffic = sums[at + 2 * m + 1]!;
      if (!rule.enabled || upper !== upper || !(traffic >= rule.minTraffic) || traffic <= 0) out[m + 1] = UNKNOWN;
      else out[m + 1] = sums[at + 2 * m]! / traffic > upper ? BAD : GOOD;
    }
    return severity;
  }

  /**
   * Keeps a point of history per metric for every slot with enough traffic, except where `skip`
   * says the edge is unhealthy (an incident is not what normal looks like).
   */
  recordPoints(skip: (slot: number, metric: number) => boolean): number {
    let n = 0;
    for (let slot = 0; slot < this.slots.length; slot++) {
      const c = this.compiled[this.ruleIndex[slot]!]!;
      for (let m = 0; m < ANOMALY_METRICS.length; m++) {
        const rule = c.anomaly[m]!;
        if (!rule.enabled) continue;
        const { value, traffic } = this.current(slot, m);
        if (!(traffic >= rule.minTraffic) || !Number.isFinite(value) || skip(slot, m)) continue;
        this.baselines.add(slot, m, value);
        n++;
      }
      this.updateBands(slot);
    }
    return n;
  }

  slot(i: number): EdgeSlot {
    return this.slots[i]!;
  }

  /** The end of the latest interval a slot had data in (ms; 0: none since the hub started). */
  lastDataOf(slot: number): number {
    return this.lastData[slot]!;
  }
}

export const SEVERITY_RANK: Record<Severity, number> = { critical: 0, error: 1, warning: 2, info: 3 };

/** A typed array `n` long with `a` at its start and `fill` after. */
function grow<T extends Float64Array | Float32Array | Int32Array | Int16Array | Uint8Array>(a: T, n: number, fill: number): T {
  const b = new (a.constructor as new (n: number) => T)(n);
  b.fill(fill);
  b.set(a);
  return b;
}

