// Prometheus text exposition for the per-edge metrics, written directly from the edge table.
// prom-client costs ~0.6 µs per labelled inc() and ~190 ms per scrape at 10,000 edges x 8 metrics
// (measured, see bench/RESULTS.md); rendering cached label strings is an order of magnitude cheaper.

export type MetricType = 'counter' | 'gauge' | 'histogram';

export interface MetricDef {
  name: string;
  type: MetricType;
  help: string;
}

type RawCatalogue = Record<string, Record<string, { name: string; type: string; help: string }>>;
export type Catalogue<T extends RawCatalogue> = { readonly [G in keyof T]: { readonly [K in keyof T[G]]: MetricDef } };

const METRIC_TYPES: readonly string[] = ['counter', 'gauge', 'histogram'];

/**
 * A component's metrics, declared once in its JSON catalogue (name, type and help of each, in
 * groups), checked when loaded: a name the exposition format rejects, an unknown type or a counter
 * without _total is a programming error.
 */
export function catalogue<T extends RawCatalogue>(json: T): Catalogue<T> {
  for (const group of Object.values(json)) {
    for (const def of Object.values(group)) {
      if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(def.name)) throw new Error(`metric catalogue: '${def.name}' is not a valid metric name`);
      if (!METRIC_TYPES.includes(def.type)) throw new Error(`metric catalogue: ${def.name} has type '${def.type}' (counter, gauge or histogram)`);
      if (def.type === 'counter' && !def.name.endsWith('_total')) throw new Error(`metric catalogue: counter ${def.name} must end in _total`);
      if (!def.help.trim()) throw new Error(`metric catalogue: ${def.name} has no help text`);
    }
  }
  return json as unknown as Catalogue<T>;
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
