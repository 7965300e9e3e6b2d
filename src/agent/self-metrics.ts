// The agent's metrics about itself: losses, map fill, interval time, errors; process_* usage.
import { Family, HistogramFamily, renderProcessMetrics } from '../lib/metrics.js';
import { INTERVAL_BUCKETS, SELF_METRICS as M } from './metrics.js';

export class SelfMetrics {
  readonly eventsLost = new Family(M.eventsLost);
  readonly mapEntries = new Family(M.mapEntries);
  readonly mapCapacity = new Family(M.mapCapacity);
  readonly rolledUp = new Family(M.rolledUp);
  readonly inferred = new Family(M.inferred);
  readonly edges = new Family(M.edges);
  readonly tracked = new Family(M.tracked);
  readonly interval = new HistogramFamily(M.interval, INTERVAL_BUCKETS);
  readonly errors = new Family(M.errors);
  readonly enrichErrors = new Family(M.enrichErrors);

  constructor() {
    // Unlabelled series exist from the start, before the first interval.
    for (const f of [this.rolledUp, this.edges, this.tracked]) f.set(0);
  }

  render(out: string[]): void {
    for (const f of [this.eventsLost, this.mapEntries, this.mapCapacity, this.rolledUp, this.inferred, this.edges, this.tracked]) f.render(out);
    this.interval.render(out);
    this.errors.render(out);
    this.enrichErrors.render(out);
    renderProcessMetrics(out);
  }
}
