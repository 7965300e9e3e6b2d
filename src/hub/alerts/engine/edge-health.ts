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
import { overrideFor, rulesAt, type EdgeScope } from '../config/match.js';
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
  lastDataMs: number;
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

/** One side's counters as the detectors need them. */
interface SideSums {
  opened: number;
  closed: number;
  failures: number;
  bytes: number;
  retransmits: number;
  resets: number;
  rttSum: number;
  rttCount: number;
  connectSum: number;
  connectCount: number;
}

const newSums = (): SideSums => ({ opened: 0, closed: 0, failures: 0, bytes: 0, retransmits: 0, resets: 0, rttSum: 0, rttCount: 0, connectSum: 0, connectCount: 0 });

function addSide(into: SideSums, s: Side): void {
  into.opened += s[C.opened]!;
  into.closed += s[C.closed]!;
  let f = 0;
  for (let i = 0; i < FAIL_REASONS.length; i++) f += s[C.failures + i]!;
  into.failures += f;
  into.bytes += s[C.bytesSent]! + s[C.bytesReceived]!;
  into.retransmits += s[C.retransmits]!;
  into.resets += s[C.resetsSent]! + s[C.resetsReceived]!;
  into.rttSum += s[RTT_SUM_AT]!;
  into.rttCount += s[RTT_SUM_AT + 1]!;
  into.connectSum += s[CONNECT_SUM_AT]!;
  into.connectCount += s[CONNECT_SUM_AT + 1]!;
}

// A histogram's sum and count follow its buckets (counters.ts).
const RTT_SUM_AT = C.rtt + RTT_BUCKETS.length;
const CONNECT_SUM_AT = C.connect + CONNECT_BUCKETS.length;

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

  constructor(
    private readonly config: AlertsConfig,
    view: View,
  ) {
    this.view = view;
    const { shortMs, longMs } = config.resolution;
    const all = [config.rules, ...config.overrides.map((o) => o.rules)];
    const shorts = [...new Set(all.flatMap((r) => r.failures.windows.map((w) => Math.max(1, Math.round(w.shortMs / shortMs)))))].sort((a, b) => a - b);
    const longs = [...new Set(all.flatMap((r) => r.failures.windows.map((w) => Math.max(1, Math.round(w.longMs / longMs)))))].sort((a, b) => a - b);
    this.shortBurn = new WindowSet(shortMs, shorts, 2);
    this.longBurn = new WindowSet(longMs, longs, 2);
    this.anomaly = new WindowSet(shortMs, [Math.max(1, Math.round(config.baseline.windowMs / shortMs))], ANOMALY_FIELDS);
    this.baselines = new Baselines(ANOMALY_METRICS.length, config.baseline.points);
    this.pendingSince = new Float64Array(1024 * EDGE_SIGNALS.length);
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
    return this.shortBurn.bytesPerSlot + this.longBurn.bytesPerSlot + this.anomaly.bytesPerSlot + this.baselines.bytesPerSlot + EDGE_SIGNALS.length * 8;
  }

  rulesOf(slot: number): Rules {
    return this.compiled[this.slots[slot]!.override + 1]!.rules;
  }

  slotById(id: string): number | undefined {
    return this.byId.get(id);
  }

  /** The slot a fine edge (by its store key) is counted in. */
  slotOfMember(key: string): number | undefined {
    return this.byMember.get(key);
  }

  /** The slot of a fine edge, made when its view edge is new (created: true; first seen at seenMs). */
  slotOf(edge: ResolvedEdge, seenMs: number): { slot: number; created: boolean } {
    const known = this.byMember.get(edge.key);
    if (known !== undefined) return { slot: known, created: false };
    const source = nodeOf(edge.client, this.view);
    const target = nodeOf(edge.server, this.view);
    const id = edgeId(this.view, source.id, target.id, edge.port);
    let slot = this.byId.get(id);
    let created = false;
    if (slot === undefined) {
      const scope: EdgeScope = {
        client: { namespace: edge.client.namespace, workload: edge.client.workload },
        server: { namespace: edge.server.namespace, workload: edge.server.workload },
        port: edge.port,
      };
      const ext = [edge.client, edge.server].find((e) => e.kind === 'external');
      slot = this.addSlot({ id, source, target, port: edge.port, scope, external: ext ? (ext.dns ? 'named' : 'unnamed') : 'no', firstSeenMs: seenMs });
      created = true;
    }
    this.byMember.set(edge.key, slot);
    this.slots[slot]!.members.push(edge.key);
    return { slot, created };
  }

  /** Adds a slot (restored ones come in their saved order). */
  addSlot(s: Omit<EdgeSlot, 'index' | 'members' | 'lastDataMs' | 'override'> & { members?: string[] }): number {
    const index = this.slots.length;
    const override = overrideFor(this.config, s.scope);
    const slot: EdgeSlot = { ...s, index, override, members: s.members ?? [], lastDataMs: 0 };
    this.slots.push(slot);
    this.byId.set(s.id, index);
    for (const m of slot.members) this.byMember.set(m, index);
    const n = this.slots.length;
    this.shortBurn.ensure(n);
    this.longBurn.ensure(n);
    this.anomaly.ensure(n);
    this.baselines.ensure(n);
    if (this.pendingSince.length < n * EDGE_SIGNALS.length) {
      const grown = new Float64Array(Math.max(n, this.pendingSince.length / EDGE_SIGNALS.length * 2) * EDGE_SIGNALS.length);
      grown.set(this.pendingSince);
      this.pendingSince = grown;
    }
    return index;
  }

  /** Moves every window to the bucket of `nowMs`. */
  advance(nowMs: number): void {
    const n = this.slots.length;
    this.shortBurn.advanceTo(this.shortBurn.bucketOf(nowMs), n);
    this.longBurn.advanceTo(this.longBurn.bucketOf(nowMs), n);
    this.anomaly.advanceTo(this.anomaly.bucketOf(nowMs), n);
  }

  private readonly burnValues = new Float64Array(2);
  private readonly anomalyValues = new Float64Array(ANOMALY_FIELDS);

  /**
   * Adds one view edge's counters over one interval: its client's view and its server's (either
   * may be absent). Data ahead of the windows' current bucket counts in the current one.
   */
  addInterval(slot: number, tMs: number, client: SideSums | undefined, server: SideSums | undefined): void {
    const main = client ?? server;
    if (!main) return;
    const s = this.slots[slot]!;
    s.lastDataMs = Math.max(s.lastDataMs, tMs);
    const attempts = client ? client.opened + client.failures : main.opened;
    const b = this.burnValues;
    b[ATTEMPTS] = attempts;
    b[FAILED] = client ? client.failures : 0;
    const clamp = (w: WindowSet): number => Math.min(w.bucketOf(tMs), w.currentBucket);
    let ok = this.shortBurn.add(slot, clamp(this.shortBurn), b);
    ok = this.longBurn.add(slot, clamp(this.longBurn), b) && ok;
    const a = this.anomalyValues;
    a[RTT_SUM] = (client?.rttSum ?? 0) + (server?.rttSum ?? 0);
    a[RTT_COUNT] = (client?.rttCount ?? 0) + (server?.rttCount ?? 0);
    a[CONNECT_SUM] = client?.connectSum ?? 0;
    a[CONNECT_COUNT] = client?.connectCount ?? 0;
    a[RETRANSMITS] = (client?.retransmits ?? 0) + (server?.retransmits ?? 0);
    a[SEGMENTS] = main.bytes / SEGMENT_BYTES + SEGMENTS_PER_CONNECTION * main.opened;
    a[RESETS] = main.resets;
    a[CONNECTIONS] = Math.max(attempts, main.closed);
    ok = this.anomaly.add(slot, clamp(this.anomaly), a) && ok;
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
    const rule = this.compiled[this.slots[slot]!.override + 1]!.anomaly[metric]!;
    if (this.baselines.count(slot, metric) < this.config.baseline.minPoints) return NaN;
    return upperBand(this.baselines.median(slot, metric), this.baselines.mad(slot, metric), rule);
  }

  /** Each burn window pair of the slot's rules: attempts, failures and burn rates in both windows. */
  burn(slot: number): Array<{ pair: CompiledBurn; shortAttempts: number; shortFailures: number; longAttempts: number; longFailures: number }> {
    const c = this.compiled[this.slots[slot]!.override + 1]!;
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
    const c = this.compiled[this.slot(slot).override + 1]!;
    const f = c.rules.failures;
    let severity: Severity | undefined;
    if (!f.enabled) out[0] = UNKNOWN;
    else {
      let bad = false;
      let good = true;
      for (const p of c.burn) {
        const sa = this.shortBurn.sum(slot, p.short, ATTEMPTS);
        const sf = this.shortBurn.sum(slot, p.short, FAILED);
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
    for (let m = 0; m < ANOMALY_METRICS.length; m++) {
      const rule = c.anomaly[m]!;
      if (!rule.enabled) {
        out[m + 1] = UNKNOWN;
        continue;
      }
      const { value, traffic } = this.current(slot, m);
      const upper = this.upper(slot, m);
      if (!(traffic >= rule.minTraffic) || !Number.isFinite(value) || Number.isNaN(upper)) out[m + 1] = UNKNOWN;
      else out[m + 1] = value > upper ? BAD : GOOD;
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
      const c = this.compiled[this.slots[slot]!.override + 1]!;
      for (let m = 0; m < ANOMALY_METRICS.length; m++) {
        const rule = c.anomaly[m]!;
        if (!rule.enabled) continue;
        const { value, traffic } = this.current(slot, m);
        if (!(traffic >= rule.minTraffic) || !Number.isFinite(value) || skip(slot, m)) continue;
        this.baselines.add(slot, m, value);
        n++;
      }
    }
    return n;
  }

  slot(i: number): EdgeSlot {
    return this.slots[i]!;
  }
}

export const SEVERITY_RANK: Record<Severity, number> = { critical: 0, error: 1, warning: 2, info: 3 };

export { newSums, addSide, type SideSums };
