// Alerting in the hub: the engine fed with every finalized interval and evaluated on a timer,
// incidents explained from the store, delivered to the receivers, and the whole state saved in
// the store now and then (and when the hub stops).
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { AlertMark } from '../../model/api.js';
import { buildViewGraph, type ViewEdge } from '../graph/graph.js';
import type { EdgeTotals, GraphStore, ResolvedEdge, Window } from '../store/store.js';
import type { AlertsConfig } from './config/types.js';
import { AlertEngine, type DnsInput, type ResolveEdge, type TcpInput } from './engine/engine.js';
import { EDGE_SIGNALS, DNS_SIGNALS } from './engine/signals.js';
import type { Incident } from './engine/incidents.js';
import { explain } from './explain.js';
import { AlertMetrics } from './metrics.js';
import type { Alert } from './model.js';
import { Receivers, type ReceiverStatus } from './notify/receivers.js';
import { applyState, captureState, DuckAlertState } from './persist.js';
import { edgeSignal, signalReports, toAlert } from './report.js';

export interface AlertServiceOptions {
  config: AlertsConfig;
  store: GraphStore;
  /** A connection to the hub's database for the alert state (none: nothing survives a restart). */
  connect?: () => Promise<DuckDBConnection>;
  registry: Registry;
  log: Logger;
  /** Names the hub in PagerDuty events (their source). */
  hubName: string;
  now?: () => number;
}

/** How long a firing alert waits for its explanation before it is delivered without one. */
const EXPLAIN_WAIT_MS = 10_000;
/** Resolved alerts are handed to receivers this long after they resolved. */
const RESOLVED_DELIVERY_MS = 30 * 60_000;

export class AlertService {
  readonly engine: AlertEngine;
  readonly receivers: Receivers;
  readonly metrics: AlertMetrics;
  private timer: NodeJS.Timeout | undefined;
  private explaining = false;
  private delivering = false;
  private saving: Promise<void> | undefined;
  private lastSaveMs = 0;
  private closed = false;
  private readonly now: () => number;
  /** Restore problems, for the status answer. */
  readonly restoreNotes: string[] = [];
  /** Numbers for fine edges a store names by key only (the Prometheus store). */
  private readonly fineIds = new Map<string, number>();
  private readonly fineEdges: ResolvedEdge[] = [];

  private constructor(
    private readonly o: AlertServiceOptions,
    private readonly state: DuckAlertState | undefined,
  ) {
    this.now = o.now ?? Date.now;
    this.engine = new AlertEngine(o.config);
    this.receivers = new Receivers(o.config.receivers, () => o.config.externalUrl, o.hubName);
    this.metrics = new AlertMetrics(o.registry, this.engine, this.receivers);
  }

  static async start(o: AlertServiceOptions): Promise<AlertService> {
    const state = o.connect ? await DuckAlertState.open(o.connect) : undefined;
    const s = new AlertService(o, state);
    if (state) {
      const saved = await state.load();
      for (const [edge, t] of saved.known) s.engine.known.set(edge, t);
      if (saved.state) {
        s.restoreNotes.push(...applyState(s.engine, saved.state));
        s.receivers.restore(saved.state.receivers);
        for (const note of s.restoreNotes) o.log.warn(note);
        o.log.info({ edges: s.engine.edges.slots.length, active: s.engine.incidents.active.size, learned: s.engine.known.size }, 'alert state restored');
      }
      s.lastSaveMs = s.now();
    }
    s.timer = setInterval(() => s.tick(), o.config.evaluationIntervalMs);
    s.timer.unref();
    o.log.info({ config: o.config.source, receivers: o.config.receivers.map((r) => `${r.name} (${r.kind.type})`), view: o.config.view }, 'alerting on');
    return s;
  }

  addTcp(items: readonly TcpInput[], resolve: ResolveEdge): void {
    this.engine.addTcp(items, resolve);
  }

  addDns(item: DnsInput): void {
    this.engine.addDns(item);
  }

  /** A store read step by step (Prometheus): each fine edge's totals over the step ending at `t`. */
  addTotals(totals: readonly EdgeTotals[], t: number): void {
    const items: TcpInput[] = [];
    for (const e of totals) {
      let id = this.fineIds.get(e.edge.key);
      if (id === undefined) {
        id = this.fineEdges.length;
        this.fineIds.set(e.edge.key, id);
        this.fineEdges.push(e.edge);
      }
      if (e.sides[0]) items.push({ edge: id, side: 0, values: e.sides[0], t });
      if (e.sides[1]) items.push({ edge: id, side: 1, values: e.sides[1], t });
    }
    this.engine.addTcp(items, (id) => this.fineEdges[id]!);
  }

  /** One evaluation: judge, explain, deliver, save when due. */
  tick(): void {
    if (this.closed) return;
    const nowMs = this.now();
    const r = this.engine.tick(nowMs);
    this.metrics.evaluation.observe(r.durationMs / 1000);
    for (const inc of r.opened) {
      this.metrics.opened.inc({ family: inc.family });
      this.o.log.info({ alert: inc.name, severity: inc.severity, subject: inc.subject, signals: inc.signals.map((s) => s.signal) }, 'alert raised');
    }
    for (const inc of r.resolved) {
      inc.finalReports = signalReports(this.engine, inc);
      this.o.log.info({ alert: inc.name, subject: inc.subject, lasted_s: Math.round((inc.endsAt - inc.startsAt) / 1000) }, 'alert resolved');
    }
    void this.explainDue(nowMs);
    void this.deliver(nowMs);
    if (this.state && nowMs - this.lastSaveMs >= this.o.config.saveIntervalMs) void this.save(nowMs);
  }

  /** The window an incident's numbers are explained over. */
  private explainWindow(nowMs: number): Window {
    const shortest = Math.min(...this.o.config.rules.failures.windows.map((w) => w.shortMs));
    return { from: nowMs - Math.max(this.o.config.baseline.windowMs, shortest), to: nowMs };
  }

  private explainEveryMs(): number {
    return Math.max(this.o.config.baseline.windowMs / 2, 5_000);
  }

  /** Explains incidents that have no explanation yet, or an old one. */
  private async explainDue(nowMs: number): Promise<void> {
    if (this.explaining) return;
    const due = [...this.engine.incidents.active.values()].filter((i) => i.family === 'edge' && nowMs - i.explainedAt >= this.explainEveryMs());
    if (!due.length) return;
    this.explaining = true;
    try {
      for (const inc of due) await this.explainIncident(inc, nowMs);
    } finally {
      this.explaining = false;
    }
  }

  /** The view edge of an incident over a window, from the store. */
  async viewEdge(edgeId: string, w: Window): Promise<ViewEdge | undefined> {
    const slot = this.engine.edges.slotById(edgeId);
    if (slot === undefined) return undefined;
    const keys = new Set(this.engine.edges.slot(slot).members);
    const totals = await this.o.store.edges(w, (e) => keys.has(e.key));
    return buildViewGraph(totals, this.engine.view).edges.get(edgeId);
  }

  private async explainIncident(inc: Incident, nowMs: number): Promise<void> {
    const w = this.explainWindow(nowMs);
    try {
      const ve = await this.viewEdge(inc.subject, w);
      const signal = inc.signals.find((s) => !s.cleared)?.signal ?? inc.signals[0]!.signal;
      if (ve) inc.explanation = explain({ edge: ve, signal, from: w.from, to: w.to }, nowMs);
    } catch (err) {
      this.metrics.explainErrors.inc();
      this.o.log.warn({ err, alert: inc.name, subject: inc.subject }, 'explaining an alert failed');
    }
    inc.explainedAt = nowMs;
  }

  /** Alerts ready for receivers: firing ones explained (or waited for long enough), recently resolved ones. */
  private deliverable(nowMs: number): Alert[] {
    const out: Alert[] = [];
    for (const inc of this.engine.incidents.active.values()) {
      if (inc.family === 'edge' && !inc.explanation && nowMs - inc.startsAt < EXPLAIN_WAIT_MS) continue;
      out.push(toAlert(this.engine, inc, nowMs));
    }
    for (let i = this.engine.incidents.history.length - 1; i >= 0; i--) {
      const inc = this.engine.incidents.history[i]!;
      if (inc.endsAt < nowMs - RESOLVED_DELIVERY_MS) break;
      out.push(toAlert(this.engine, inc, nowMs));
    }
    return out;
  }

  private async deliver(nowMs: number): Promise<void> {
    if (this.delivering || this.receivers.size === 0) return;
    this.delivering = true;
    try {
      await this.receivers.deliver(this.deliverable(nowMs), nowMs, (msg, err) => this.o.log.warn({ status: err?.status, reason: err?.message }, msg));
    } catch (err) {
      this.o.log.error({ err }, 'delivering alerts failed');
    } finally {
      this.delivering = false;
    }
  }

  /** Saves the state now (waits for a save under way). */
  save(nowMs = this.now()): Promise<void> {
    if (!this.state) return Promise.resolve();
    if (this.saving) return this.saving;
    const state = this.state;
    const known = this.engine.unsavedKnown;
    this.engine.unsavedKnown = [];
    const started = performance.now();
    const snapshot = captureState(this.engine, this.receivers.save(), nowMs, state.saved);
    this.saving = state
      .save(snapshot, known.map((id): [string, number] => [id, this.engine.known.get(id) ?? nowMs]))
      .then(() => {
        this.lastSaveMs = nowMs;
        this.metrics.saveDuration.observe((performance.now() - started) / 1000);
      })
      .catch((err: unknown) => {
        this.engine.unsavedKnown.unshift(...known);
        this.metrics.saveErrors.inc();
        this.o.log.error({ err }, 'saving the alert state failed; will retry');
      })
      .finally(() => {
        this.saving = undefined;
      });
    return this.saving;
  }

  // --- queries ---------------------------------------------------------------------------------

  /** Active, pending and resolved alerts (resolved ones since `sinceMs`). */
  alerts(sinceMs: number): Array<Alert | PendingAlert> {
    const nowMs = this.now();
    const out: Array<Alert | PendingAlert> = this.engine.incidents.all(sinceMs).map((i) => toAlert(this.engine, i, nowMs));
    out.push(...this.pending(nowMs));
    return out;
  }

  /** Signals that are out of bounds but have not held long enough to fire. */
  pending(nowMs: number): PendingAlert[] {
    const out: PendingAlert[] = [];
    const e = this.engine.edges;
    for (let slot = 0; slot < e.slots.length; slot++) {
      const since: Array<{ signal: string; since: string }> = [];
      for (let s = 0; s < EDGE_SIGNALS.length; s++) {
        const t = e.pendingSince[slot * EDGE_SIGNALS.length + s]!;
        if (t > 0) since.push({ signal: EDGE_SIGNALS[s]!, since: new Date(t).toISOString() });
      }
      if (!since.length) continue;
      const id = e.slot(slot).id;
      if (this.engine.incidents.get('edge', id)) continue;
      out.push({ state: 'pending', family: 'edge', subject: id, signals: since, url: this.engine.edgeUrl(id, nowMs) });
    }
    const d = this.engine.dns;
    for (let slot = 0; slot < d.slots.length; slot++) {
      const since: Array<{ signal: string; since: string }> = [];
      for (let s = 0; s < DNS_SIGNALS.length; s++) {
        const t = d.pendingSince[slot * DNS_SIGNALS.length + s]!;
        if (t > 0) since.push({ signal: DNS_SIGNALS[s]!, since: new Date(t).toISOString() });
      }
      const id = d.slots[slot]!.id;
      if (since.length && !this.engine.incidents.get('dns', id)) out.push({ state: 'pending', family: 'dns', subject: id, signals: since, url: '' });
    }
    return out;
  }

  /** The marks of a graph edge: alerts on the view edges its fine edges belong to, active during the window. */
  marks(edge: ViewEdge, w: Window): AlertMark[] | undefined {
    const subjects = new Set<string>();
    for (const m of edge.members) {
      const slot = this.engine.edges.slotOfMember(m.edge.key);
      if (slot !== undefined) subjects.add(this.engine.edges.slot(slot).id);
    }
    if (!subjects.size) return undefined;
    const out: AlertMark[] = [];
    for (const inc of this.engine.incidents.all(w.from)) {
      if (inc.family === 'dns' || !subjects.has(inc.subject) || inc.startsAt > w.to) continue;
      out.push({ id: inc.fingerprint, name: inc.name, severity: inc.severity, state: inc.endsAt ? 'resolved' : 'firing', since: new Date(inc.startsAt).toISOString() });
    }
    return out.length ? out : undefined;
  }

  /** Per metric: the edge's history, its median, MAD and band, and the value now. */
  baseline(edgeId: string): unknown {
    const e = this.engine.edges;
    const slot = e.slotById(edgeId);
    if (slot === undefined) return undefined;
    const metrics: Record<string, unknown> = {};
    ['rtt', 'connect', 'retransmits', 'resets'].forEach((name, m) => {
      const upper = e.upper(slot, m);
      const { value, traffic } = e.current(slot, m);
      metrics[name] = {
        points: e.baselines.history(slot, m),
        median: nullIfNaN(e.baselines.median(slot, m)),
        mad: nullIfNaN(e.baselines.mad(slot, m)),
        upper: nullIfNaN(upper),
        now: Number.isFinite(value) ? value : null,
        traffic,
      };
    });
    const s = e.slot(slot);
    const failures = edgeSignal(this.engine, slot, 'failures', { signal: 'failures', since: new Date(s.firstSeenMs).toISOString(), cleared: null });
    return { edge: s.id, view: this.engine.config.view, first_seen: new Date(s.firstSeenMs).toISOString(), learned: this.engine.known.has(s.id), metrics, failures };
  }

  status(): { receivers: ReceiverStatus[]; edges: number; dns: number; learning_until: string | null; active: number; notes: string[] } {
    const learningUntil = this.engine.learningStartMs ? this.engine.learningStartMs + this.o.config.learningWindowMs : 0;
    return {
      receivers: this.receivers.status(),
      edges: this.engine.edges.slots.length,
      dns: this.engine.dns.slots.length,
      learning_until: learningUntil ? new Date(learningUntil).toISOString() : null,
      active: this.engine.incidents.active.size,
      notes: this.restoreNotes,
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.saving;
    await this.save();
    this.state?.close();
  }
}

export interface PendingAlert {
  state: 'pending';
  family: 'edge' | 'dns';
  subject: string;
  signals: Array<{ signal: string; since: string }>;
  url: string;
}

const nullIfNaN = (x: number): number | null => (Number.isFinite(x) ? x : null);

