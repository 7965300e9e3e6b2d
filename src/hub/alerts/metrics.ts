// The alerting part of the hub's /metrics: what is active, what evaluation costs, what was
// delivered or held back. Read from the engine and receivers when scraped.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { AlertEngine } from './engine/engine.js';
import type { Receivers } from './notify/receivers.js';

export class AlertMetrics {
  readonly evaluation: Histogram;
  readonly opened: Counter<'family'>;
  readonly saveDuration: Histogram;
  readonly saveErrors: Counter;
  readonly explainErrors: Counter;

  constructor(registry: Registry, engine: AlertEngine, receivers: Receivers) {
    const registers = [registry];
    this.evaluation = new Histogram({
      name: 'flowscope_hub_alert_evaluation_duration_seconds',
      help: 'Time one evaluation of every edge and DNS client took',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers,
    });
    this.opened = new Counter({ name: 'flowscope_hub_alerts_opened_total', help: 'Alerts raised, by family (edge, dns, new_dependency)', labelNames: ['family'], registers });
    this.saveDuration = new Histogram({ name: 'flowscope_hub_alert_state_save_duration_seconds', help: 'Time saving the alert state (windows, baselines, incidents) into the store took', buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers });
    this.saveErrors = new Counter({ name: 'flowscope_hub_alert_state_save_errors_total', help: 'Saves of the alert state that failed (the next one tries again)', registers });
    this.explainErrors = new Counter({ name: 'flowscope_hub_alert_explain_errors_total', help: 'Explanations that could not be computed from the store', registers });
    new Gauge({
      name: 'flowscope_hub_alerts_active',
      help: 'Alerts firing now, by family and severity',
      labelNames: ['family', 'severity'],
      registers,
      collect() {
        this.reset();
        for (const i of engine.incidents.active.values()) this.inc({ family: i.family, severity: i.severity });
      },
    });
    new Gauge({
      name: 'flowscope_hub_alert_subjects',
      help: 'What alerting watches: view edges and DNS client/server pairs',
      labelNames: ['what'],
      registers,
      collect() {
        this.set({ what: 'edges' }, engine.edges.slots.length);
        this.set({ what: 'dns' }, engine.dns.slots.length);
        this.set({ what: 'learned_dependencies' }, engine.known.size);
      },
    });
    new Gauge({
      name: 'flowscope_hub_alert_state_bytes',
      help: 'Memory of the windows and baselines alerting keeps',
      registers,
      collect() {
        this.set(engine.edges.slots.length * engine.edges.bytesPerSlot + engine.dns.slots.length * engine.dns.bytesPerSlot);
      },
    });
    new Counter({
      name: 'flowscope_hub_alert_dropped_samples_total',
      help: 'Interval data that arrived too late for the alert windows (older than the windows hold)',
      registers,
      collect() {
        this.reset();
        this.inc(engine.edges.dropped + engine.dns.dropped);
      },
    });
    new Counter({
      name: 'flowscope_hub_alert_muted_total',
      help: 'Alerts not raised because a mute matched them',
      registers,
      collect() {
        this.reset();
        this.inc(engine.counters.muted);
      },
    });
    new Counter({
      name: 'flowscope_hub_alert_baseline_points_total',
      help: 'Points added to edges\' histories',
      registers,
      collect() {
        this.reset();
        this.inc(engine.counters.pointsRecorded);
      },
    });
    new Counter({
      name: 'flowscope_hub_alert_notifications_total',
      help: 'Notifications per receiver, by result (sent, failed, rate_limited: held back by the rate limit and sent later)',
      labelNames: ['receiver', 'result'],
      registers,
      collect() {
        this.reset();
        for (const r of receivers.status()) {
          this.inc({ receiver: r.name, result: 'sent' }, r.sent);
          this.inc({ receiver: r.name, result: 'failed' }, r.failed);
          this.inc({ receiver: r.name, result: 'rate_limited' }, r.rate_limited);
        }
      },
    });
  }
}
