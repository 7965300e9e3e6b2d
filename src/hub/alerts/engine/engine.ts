// The alert engine: fed every finalized interval (TCP edge contributions, DNS records), it judges
// every edge of the alerting view and every DNS client on each tick, opens one incident per
// unhealthy subject and resolves it once healthy again for a while. It does no I/O: the service
// around it explains incidents from the store, delivers them and saves the engine's state.
import type { wire } from '../../../model/index.js';
import type { Side } from '../../graph/counters.js';
import { parseView, type View } from '../../graph/views.js';
import type { ResolvedEdge } from '../../store/store.js';
import type { AlertsConfig, Severity } from '../config/types.js';
import { cleanLabels } from '../model.js';
import { Silences } from '../silences.js';
import { DnsHealth } from './dns-health.js';
import { ANOMALY_METRICS, EdgeHealth, SEVERITY_RANK } from './edge-health.js';
import { Incidents, type Incident } from './incidents.js';
import { ALERT_NAMES, BAD, DNS_SIGNALS, EDGE_SIGNALS, FAILURES, GOOD, UNKNOWN, type Signal } from './signals.js';

/** One side of a fine edge over one interval, as the join hands it out. */
export interface TcpInput {
  /** The fine edge's number in the store (resolved into its ends only when first seen). */
  edge: number;
  side: 0 | 1;
  values: Side;
  /** The interval's end (ms). */
  t: number;
}

export type ResolveEdge = (edge: number) => ResolvedEdge;

export interface DnsInput {
  node: string;
  zone: string;
  t: number;
  records: readonly wire.DnsV1[];
}

export interface TickResult {
  opened: Incident[];
  resolved: Incident[];
  /** Incidents that gained a signal (or lost one). */
  changed: Incident[];
  /** Time the tick took (ms). */
  durationMs: number;
}

export interface EngineCounters {
  ticks: number;
  pointsRecorded: number;
  /** Incidents not opened because a mute matched. */
  muted: number;
  newDependencies: number;
}

const NONE = -1;

export class AlertEngine {
  readonly view: View;
  readonly edges: EdgeHealth;
  readonly dns: DnsHealth;
  readonly incidents = new Incidents();
  readonly silences = new Silences();
  /** The edges learned as dependencies (view edge ids), with when they were first seen. */
  readonly known = new Map<string, number>();
  /** Known edges not saved yet. */
  unsavedKnown: string[] = [];
  /** When learning started (ms; 0: at the first tick). */
  learningStartMs = 0;
  readonly counters: EngineCounters = { ticks: 0, pointsRecorded: 0, muted: 0, newDependencies: 0 };
  private tcpQueue: Array<{ items: readonly TcpInput[]; resolve: ResolveEdge }> = [];
  private dnsQueue: DnsInput[] = [];
  private lastEvery = NONE;
  private readonly outcomes = new Uint8Array(EDGE_SIGNALS.length);
  private readonly dnsOutcomes = new Uint8Array(DNS_SIGNALS.length);
  /** Per edge slot / DNS slot: its open incident. */
  private readonly edgeIncident = new Map<number, Incident>();
  private readonly dnsIncident = new Map<number, Incident>();
  private newEdges: number[] = [];
  /** New edges after learning, waiting to show they last (settle) before they count. */
  private settling: number[] = [];

  constructor(readonly config: AlertsConfig) {
    this.view = parseView(config.view);
    this.edges = new EdgeHealth(config, this.view);
    this.dns = new DnsHealth(config, this.view);
  }

  learning(nowMs: number): boolean {
    return this.learningStartMs === 0 || nowMs < this.learningStartMs + this.config.learningWindowMs;
  }

  /** Queues a finalized interval's TCP contributions (applied at the next tick; not copied). */
  addTcp(items: readonly TcpInput[], resolve: ResolveEdge): void {
    this.tcpQueue.push({ items, resolve });
  }

  addDns(item: DnsInput): void {
    this.dnsQueue.push(item);
  }

  /** Applies queued data: sides of the same view edge and bucket are summed before they are derived. */
  private drain(nowMs: number): void {
    const queue = this.tcpQueue;
    this.tcpQueue = [];
    for (const { items, resolve } of queue) for (const c of items) this.edges.add(c.edge, resolve, c.side, c.values, c.t, Math.min(c.t, nowMs));
    this.edges.flush();
    for (const slot of this.edges.created) this.newEdges.push(slot);
    this.edges.created.length = 0;
    const dns = this.dnsQueue;
    this.dnsQueue = [];
    for (const d of dns) this.dns.addRecords(d.node, d.zone, d.t, d.records, nowMs);
  }

  /** One evaluation of everything. */
  tick(nowMs: number): TickResult {
    const started = performance.now();
    if (this.learningStartMs === 0) this.learningStartMs = nowMs;
    const result: TickResult = { opened: [], resolved: [], changed: [], durationMs: 0 };
    this.edges.advance(nowMs);
    this.dns.advance(nowMs);
    this.drain(nowMs);
    for (const slot of this.newEdges) this.learnEdge(slot, nowMs);
    this.newEdges = [];
    this.settleNewEdges(nowMs, result);
    const every = Math.floor(nowMs / this.config.baseline.everyMs);
    if (every !== this.lastEvery) {
      // The first tick only sets the clock: its windows may hold a partial period.
      if (this.lastEvery !== NONE) {
        this.counters.pointsRecorded += this.edges.recordPoints((slot, m) => this.edgeIncident.has(slot) || this.edges.pendingSince[slot * EDGE_SIGNALS.length + m + 1]! > 0);
        this.dns.recordPoints((slot) => this.dnsIncident.has(slot));
      }
      this.lastEvery = every;
    }
    // A slot whose windows did not change, with nothing pending and no incident, would be judged
    // as before: healthy or unknown. Only the others are judged.
    const dirty = this.edges.dirty;
    const pending = this.edges.pendingSince;
    const incidents = this.edgeIncident;
    const S = EDGE_SIGNALS.length;
    for (let slot = 0; slot < this.edges.slots.length; slot++) {
      if (dirty[slot] === 0) {
        let waiting = false;
        for (let s = 0; s < S; s++) if (pending[slot * S + s]! > 0) waiting = true;
        if (!waiting && (incidents.size === 0 || !incidents.has(slot))) continue;
      }
      dirty[slot] = 0;
      this.judgeEdge(slot, nowMs, result);
    }
    for (let slot = 0; slot < this.dns.slots.length; slot++) this.judgeDns(slot, nowMs, result);
    for (const inc of [...this.incidents.active.values()]) {
      if (inc.family === 'new_dependency' && nowMs >= inc.startsAt + this.config.rules.newDependency.holdMs) {
        this.incidents.resolve(inc, nowMs);
        result.resolved.push(inc);
      }
    }
    this.counters.ticks++;
    result.durationMs = performance.now() - started;
    return result;
  }

  private forMs(slot: number, s: number): number {
    if (s === FAILURES) return 0;
    return this.edges.rulesOf(slot)[ANOMALY_METRICS[s - 1]!].forMs;
  }

  private resolveAfterMs(slot: number, s: number): number {
    const r = this.edges.rulesOf(slot);
    return s === FAILURES ? r.failures.resolveAfterMs : r[ANOMALY_METRICS[s - 1]!].resolveAfterMs;
  }

  /** How long a signal may go unjudged (no traffic) before it counts as cleared. */
  private staleAfterMs(slot: number, s: number): number {
    const r = this.edges.rulesOf(slot);
    const window = s === FAILURES ? Math.max(...r.failures.windows.map((w) => w.shortMs)) : this.config.baseline.windowMs;
    return 2 * this.resolveAfterMs(slot, s) + window;
  }

  private judgeEdge(slot: number, nowMs: number, result: TickResult): void {
    const out = this.outcomes;
    const burnSeverity = this.edges.judge(slot, out);
    const pending = this.edges.pendingSince;
    const base = slot * EDGE_SIGNALS.length;
    let anyPending = false;
    for (let s = 0; s < out.length; s++) {
      if (out[s] === BAD) {
        if (pending[base + s] === 0) pending[base + s] = nowMs;
        anyPending = true;
      } else pending[base + s] = 0;
    }
    if (!anyPending && this.edgeIncident.size === 0) return;
    let inc = this.edgeIncident.get(slot);
    if (!inc && !anyPending) return;
    const firing: Array<{ s: number; severity: Severity }> = [];
    for (let s = 0; s < out.length; s++) {
      const since = pending[base + s]!;
      if (since > 0 && nowMs - since >= this.forMs(slot, s)) {
        const severity = s === FAILURES ? burnSeverity! : this.edges.rulesOf(slot)[ANOMALY_METRICS[s - 1]!].severity;
        firing.push({ s, severity });
      }
    }
    if (!inc) {
      if (firing.length === 0) return;
      inc = this.openEdgeIncident(slot, firing, nowMs);
      if (inc) result.opened.push(inc);
      return;
    }
    let changed = this.join(inc, firing.map((f) => EDGE_SIGNALS[f.s]!), nowMs);
    for (const st of inc.signals) {
      if (st.cleared) continue;
      const s = EDGE_SIGNALS.indexOf(st.signal as (typeof EDGE_SIGNALS)[number]);
      if (this.settle(st, out[s]!, nowMs, this.resolveAfterMs(slot, s), this.staleAfterMs(slot, s))) changed = true;
    }
    this.finish(inc, nowMs, changed, result, () => this.edgeIncident.delete(slot));
  }

  /** Signals that fire join the open incident (again, if they had cleared); true when any did. */
  private join(inc: Incident, firing: readonly Signal[], nowMs: number): boolean {
    let changed = false;
    for (const signal of firing) {
      const st = inc.signals.find((x) => x.signal === signal);
      if (!st) {
        inc.signals.push({ signal, since: nowMs, goodSince: 0, unknownSince: 0, cleared: 0 });
        changed = true;
      } else if (st.cleared) {
        st.cleared = 0;
        st.since = nowMs;
        changed = true;
      }
    }
    return changed;
  }

  /** Moves a signal of an open incident towards cleared; true when it cleared now. */
  private settle(st: Incident['signals'][number], outcome: number, nowMs: number, resolveAfterMs: number, staleAfterMs: number): boolean {
    if (outcome === BAD) {
      st.goodSince = 0;
      st.unknownSince = 0;
      return false;
    }
    if (outcome === GOOD) {
      st.unknownSince = 0;
      if (!st.goodSince) st.goodSince = nowMs;
    } else if (outcome === UNKNOWN && !st.unknownSince) st.unknownSince = nowMs;
    const cleared = (st.goodSince > 0 && nowMs - st.goodSince >= resolveAfterMs) || (st.unknownSince > 0 && nowMs - st.unknownSince >= staleAfterMs);
    if (cleared) st.cleared = nowMs;
    return cleared;
  }

  private finish(inc: Incident, nowMs: number, changed: boolean, result: TickResult, detach: () => void): void {
    if (inc.signals.every((x) => x.cleared)) {
      this.incidents.resolve(inc, nowMs);
      detach();
      result.resolved.push(inc);
    } else if (changed) {
      inc.updatedAt = nowMs;
      result.changed.push(inc);
    }
  }

  private openEdgeIncident(slot: number, firing: Array<{ s: number; severity: Severity }>, nowMs: number): Incident | undefined {
    firing.sort((a, b) => SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity] || a.s - b.s);
    const first = firing[0]!;
    const signal = EDGE_SIGNALS[first.s]!;
    const labels = this.edgeLabels(slot, ALERT_NAMES[signal], first.severity);
    if (this.silences.matching(labels, 'mute', nowMs).length) {
      this.counters.muted++;
      return undefined;
    }
    const e = this.edges.slot(slot);
    const inc = this.incidents.open({
      family: 'edge',
      subject: e.id,
      name: labels.alertname!,
      severity: first.severity,
      labels,
      startsAt: nowMs,
      signals: firing.map((f) => ({ signal: EDGE_SIGNALS[f.s]!, since: nowMs, goodSince: 0, unknownSince: 0, cleared: 0 })),
      url: this.edgeUrl(e.id, nowMs),
    });
    this.edgeIncident.set(slot, inc);
    return inc;
  }

  edgeLabels(slot: number, alertname: string, severity: Severity): Record<string, string> {
    const e = this.edges.slot(slot);
    return cleanLabels({
      alertname,
      severity,
      view: this.config.view,
      edge: e.id,
      source: e.source.name,
      target: e.target.name,
      port: e.port,
      namespace: e.scope.server.namespace,
      workload: e.scope.server.workload,
      source_namespace: e.scope.client.namespace,
      source_workload: e.scope.client.workload,
    });
  }

  /** The UI view of an edge around a time. */
  edgeUrl(edgeId: string, atMs: number): string {
    const from = new Date(atMs - 15 * 60_000).toISOString();
    const to = new Date(atMs + 15 * 60_000).toISOString();
    const q = new URLSearchParams({ view: this.config.view, sel: edgeId, range: 'custom', from, to });
    return `${this.config.externalUrl}/?${q.toString()}`;
  }

  /** A view edge seen for the first time: learned while learning, else a candidate new dependency. */
  private learnEdge(slot: number, nowMs: number): void {
    const e = this.edges.slot(slot);
    if (this.known.has(e.id)) return;
    this.known.set(e.id, e.firstSeenMs);
    this.unsavedKnown.push(e.id);
    // Judged by when its traffic was (an agent's interval), not by when the hub got to it.
    if (!this.learning(e.firstSeenMs)) this.settling.push(slot);
  }

  /**
   * Candidates that still carry traffic the settle time after their first interval become
   * new-dependency alerts; those that went quiet (a passing name) are dropped after three settle
   * times (data arrives late by the join's wait, so quiet takes a while to be sure of).
   */
  private settleNewEdges(nowMs: number, result: TickResult): void {
    if (!this.settling.length) return;
    const waiting: number[] = [];
    for (const slot of this.settling) {
      const e = this.edges.slot(slot);
      const rule = this.edges.rulesOf(slot).newDependency;
      if (this.edges.lastDataOf(slot) >= e.firstSeenMs + rule.settleMs) this.newDependency(slot, nowMs, result);
      else if (nowMs - e.firstSeenMs < 3 * rule.settleMs) waiting.push(slot);
    }
    this.settling = waiting;
  }

  private newDependency(slot: number, nowMs: number, result: TickResult): void {
    const e = this.edges.slot(slot);
    const rule = this.edges.rulesOf(slot).newDependency;
    if (!rule.enabled) return;
    if (e.external === 'unnamed' && rule.external !== 'all') return;
    if (e.external === 'named' && rule.external === 'none') return;
    const labels = this.edgeLabels(slot, ALERT_NAMES.new_dependency, rule.severity);
    if (this.silences.matching(labels, 'mute', nowMs).length) {
      this.counters.muted++;
      return;
    }
    this.counters.newDependencies++;
    const inc = this.incidents.open({
      family: 'new_dependency',
      subject: e.id,
      name: labels.alertname!,
      severity: rule.severity,
      labels,
      startsAt: nowMs,
      signals: [{ signal: 'new_dependency', since: e.firstSeenMs, goodSince: 0, unknownSince: 0, cleared: 0 }],
      url: this.edgeUrl(e.id, e.firstSeenMs),
    });
    result.opened.push(inc);
  }

  private judgeDns(slot: number, nowMs: number, result: TickResult): void {
    const out = this.dnsOutcomes;
    this.dns.judge(slot, out);
    const rule = this.dns.ruleOf(slot);
    const pending = this.dns.pendingSince;
    const base = slot * DNS_SIGNALS.length;
    const firing: Signal[] = [];
    for (let s = 0; s < out.length; s++) {
      if (out[s] === BAD) {
        if (pending[base + s] === 0) pending[base + s] = nowMs;
        if (nowMs - pending[base + s]! >= rule.forMs) firing.push(DNS_SIGNALS[s]!);
      } else pending[base + s] = 0;
    }
    let inc = this.dnsIncident.get(slot);
    const d = this.dns.slots[slot]!;
    if (!inc) {
      if (!firing.length) return;
      const labels = cleanLabels({
        alertname: ALERT_NAMES.servfail,
        severity: rule.severity,
        view: this.config.view,
        client: d.client.name,
        client_id: d.client.id,
        server: d.server,
        namespace: d.scope.client.namespace,
        workload: d.scope.client.workload,
      });
      if (this.silences.matching(labels, 'mute', nowMs).length) {
        this.counters.muted++;
        return;
      }
      inc = this.incidents.open({
        family: 'dns',
        subject: d.id,
        name: labels.alertname!,
        severity: rule.severity,
        labels,
        startsAt: nowMs,
        signals: firing.map((signal) => ({ signal, since: nowMs, goodSince: 0, unknownSince: 0, cleared: 0 })),
        url: `${this.config.externalUrl}/?${new URLSearchParams({ view: this.config.view, sel: d.client.id }).toString()}`,
      });
      this.dnsIncident.set(slot, inc);
      result.opened.push(inc);
      return;
    }
    let changed = this.join(inc, firing, nowMs);
    for (const st of inc.signals) {
      if (st.cleared) continue;
      const s = DNS_SIGNALS.indexOf(st.signal as (typeof DNS_SIGNALS)[number]);
      if (this.settle(st, out[s]!, nowMs, rule.resolveAfterMs, 2 * rule.resolveAfterMs + this.config.baseline.windowMs)) changed = true;
    }
    this.finish(inc, nowMs, changed, result, () => this.dnsIncident.delete(slot));
  }

  /** Re-attaches restored incidents to their slots (slots are restored first). */
  attachRestored(): void {
    for (const inc of this.incidents.active.values()) {
      if (inc.family === 'edge') {
        const slot = this.edges.slotById(inc.subject);
        if (slot !== undefined) this.edgeIncident.set(slot, inc);
      } else if (inc.family === 'dns') {
        const slot = this.dns.slotById(inc.subject);
        if (slot !== undefined) this.dnsIncident.set(slot, inc);
      }
    }
  }

  /** Restored incidents whose subject no longer exists are resolved at once. */
  slotOfIncident(inc: Incident): number | undefined {
    return inc.family === 'dns' ? this.dns.slotById(inc.subject) : this.edges.slotById(inc.subject);
  }
}
