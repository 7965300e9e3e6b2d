// Prometheus text exposition for the per-edge metrics, written directly from the edge table.
// prom-client costs ~0.6 µs per labelled inc() and ~190 ms per scrape at 10,000 edges x 8 metrics
// (measured, see bench/RESULTS.md); rendering cached label strings is an order of magnitude cheaper.

export type MetricType = 'counter' | 'gauge' | 'histogram';

export interface MetricDef {
  name: string;
  type: MetricType;
  help: string;
}

export function escapeLabelValue(v: string): string {
  return /[\\"\n]/.test(v) ? v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') : v;
}

/** `a="x",b="y"` from ordered pairs (values escaped). */
export function labelString(pairs: Array<[string, string]>): string {
  return pairs.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(',');
}

export function formatValue(v: number): string {
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  if (Number.isNaN(v)) return 'NaN';
  return String(v);
}

export function header(out: string[], m: MetricDef): void {
  out.push(`# HELP ${m.name} ${m.help}`, `# TYPE ${m.name} ${m.type}`);
}

export function sample(out: string[], name: string, labels: string, value: number): void {
  out.push(labels ? `${name}{${labels}} ${formatValue(value)}` : `${name} ${formatValue(value)}`);
}
