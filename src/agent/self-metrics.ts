// The agent's metrics about itself (prom-client's classes, see metrics/prom.ts): losses, map fill, BPF run time, process usage.
import * as client from './metrics/prom.js';
import { registerProcessMetrics } from './process-metrics.js';

export class SelfMetrics {
  readonly registry = new client.Registry();
  readonly eventsLost = new client.Counter({
    name: 'flowscope_agent_events_lost_total',
    help: 'Records the agent could not take in, by source (ringbuf: lifecycle events dropped because the ring buffer was full; recursion: hook runs the kernel skipped because the program was already running on that CPU; conn_map_full: connections the kernel map had no room for, counted at close instead).',
    labelNames: ['source'],
    registers: [this.registry],
  });
  readonly mapEntries = new client.Gauge({
    name: 'flowscope_agent_map_entries',
    help: 'Entries in the agent\'s BPF maps at the last read.',
    labelNames: ['map'],
    registers: [this.registry],
  });
  readonly mapCapacity = new client.Gauge({
    name: 'flowscope_agent_map_capacity_entries',
    help: 'Maximum entries of the agent\'s BPF maps.',
    labelNames: ['map'],
    registers: [this.registry],
  });
  readonly bpfRunSeconds = new client.Counter({
    name: 'flowscope_agent_bpf_run_seconds_total',
    help: 'Time the kernel spent running each of the agent\'s BPF programs (while kernel BPF statistics are on).',
    labelNames: ['program'],
    registers: [this.registry],
  });
  readonly bpfRuns = new client.Counter({
    name: 'flowscope_agent_bpf_runs_total',
    help: 'Runs of each of the agent\'s BPF programs (while kernel BPF statistics are on).',
    labelNames: ['program'],
    registers: [this.registry],
  });
  readonly rolledUp = new client.Counter({
    name: 'flowscope_agent_series_rolled_up_total',
    help: 'Connections counted under peer_addr="other" because their own series would exceed the series cap.',
    registers: [this.registry],
  });
  readonly inferred = new client.Counter({
    name: 'flowscope_agent_events_inferred_total',
    help: 'Lifecycle events the agent inferred because the event itself was lost (event: open, close).',
    labelNames: ['event'],
    registers: [this.registry],
  });
  readonly edges = new client.Gauge({ name: 'flowscope_agent_edges', help: 'Edges (series per TCP metric) the agent holds.', registers: [this.registry] });
  readonly tracked = new client.Gauge({ name: 'flowscope_agent_tracked_connections', help: 'Connections the agent is following.', registers: [this.registry] });
  readonly intervalSeconds = new client.Histogram({
    name: 'flowscope_agent_interval_duration_seconds',
    help: 'Time to read the kernel maps and update the edges, per interval.',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [this.registry],
  });
  readonly errors = new client.Counter({
    name: 'flowscope_agent_errors_total',
    help: 'Errors the agent recovered from, by stage.',
    labelNames: ['stage'],
    registers: [this.registry],
  });

  private readonly mirrored = new Map<string, number>();

  constructor() {
    registerProcessMetrics(this.registry);
  }

  /** Advances a counter to a cumulative value read from the kernel (counters only move forward). */
  mirror(counter: client.Counter<string>, labels: Record<string, string>, total: number): void {
    const key = `${(counter as unknown as { name: string }).name}\u0000${JSON.stringify(labels)}`;
    const prev = this.mirrored.get(key) ?? 0;
    if (total > prev) {
      counter.inc(labels, total - prev);
      this.mirrored.set(key, total);
    } else if (!this.mirrored.has(key)) {
      counter.inc(labels, 0);
      this.mirrored.set(key, 0);
    }
  }
}
