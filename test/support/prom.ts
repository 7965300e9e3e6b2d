// A small reader of the Prometheus text exposition, for assertions.
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parseExposition(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (!m) throw new Error(`unparsable exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1]!] = l[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    out.push({ name: m[1]!, labels, value: m[3] === '+Inf' ? Infinity : Number(m[3]) });
  }
  return out;
}

export class Metrics {
  constructor(readonly samples: Sample[]) {}

  select(name: string, match: Record<string, string> = {}): Sample[] {
    return this.samples.filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v));
  }

  /** Sum of the matching samples (0 when none). */
  sum(name: string, match: Record<string, string> = {}): number {
    return this.select(name, match).reduce((a, s) => a + s.value, 0);
  }

  /** histogram_quantile over the matching series (buckets summed across them). */
  quantile(q: number, name: string, match: Record<string, string> = {}): number {
    const buckets = new Map<number, number>();
    for (const s of this.select(`${name}_bucket`, match)) {
      const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
      buckets.set(le, (buckets.get(le) ?? 0) + s.value);
    }
    const sorted = [...buckets.entries()].sort((a, b) => a[0] - b[0]);
    const total = sorted[sorted.length - 1]?.[1] ?? 0;
    if (total === 0) return NaN;
    const rank = q * total;
    let prevLe = 0;
    let prevCount = 0;
    for (const [le, count] of sorted) {
      if (count >= rank) {
        if (le === Infinity) return prevLe;
        return prevLe + ((le - prevLe) * (rank - prevCount)) / (count - prevCount || 1);
      }
      prevLe = le;
      prevCount = count;
    }
    return prevLe;
  }
}
