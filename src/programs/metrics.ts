// Maps as Prometheus metrics: counters and gauges from hash, array, per-CPU (summed) and LRU maps;
// histograms from maps keyed by (labels..., bucket index) with log2 or linear buckets.
// A whole map is read in one batch and decoded in place (DataView); decoded label sets are cached by
// the key's bytes, so a scrape of an unchanged map costs a lookup per key.
import type { MapBatch } from '../bpf/index.js';
import { MapType } from '../bpf/index.js';
import { escapeLabelValue, formatValue } from '../lib/exposition.js';
import type { CounterSpec, HistogramSpec, LabelSpec } from './schema.js';
import { createDecoder, LabelDecoder, type DecoderEnv } from './decoders/index.js';

/** A map whose shape does not fit the metric configured on it. */
export class MapLayoutError extends Error {
  override name = 'MapLayoutError';
}

export interface MapShape {
  name: string;
  type: number;
  typeName: string;
  keySize: number;
  valueSize: number;
}

const READABLE = new Set<number>([MapType.hash, MapType.array, MapType.percpuHash, MapType.percpuArray, MapType.lruHash, MapType.lruPercpuHash]);

export type MetricKind = 'counter' | 'gauge' | 'histogram';

/** Keys decoded to the same label set are one series (their values add up). */
export interface ScrapeStats {
  keys: number;
  /** Keys a decoder dropped (static_map without the value, regexp without a match). */
  skipped: number;
}

function layoutLabels(labels: LabelSpec[], env: DecoderEnv): LabelDecoder[] {
  let offset = 0;
  return labels.map((l) => {
    const at = l.offset ?? offset;
    offset = at + l.size;
    return new LabelDecoder(l.name, at, l.size, (l.decoders ?? []).map((d) => createDecoder(d, env)));
  });
}

function labelSpecsHaveOffsets(labels: LabelSpec[]): boolean {
  return labels.some((l) => l.offset !== undefined);
}

function describeLabels(labels: LabelDecoder[]): string {
  return labels.map((l) => `${l.name}@${l.offset}+${l.size}`).join(', ');
}

/** Reads an unsigned little-endian value of 1, 2, 4 or 8 bytes as a Number. */
function readValue(v: DataView, o: number, size: number): number {
  switch (size) {
    case 8:
      return v.getUint32(o, true) + v.getUint32(o + 4, true) * 4294967296;
    case 4:
      return v.getUint32(o, true);
    case 2:
      return v.getUint16(o, true);
    default:
      return v.getUint8(o);
  }
}

/** One output series: keys that decode to the same labels add into it. Reused across scrapes. */
export interface Series {
  /** Rendered `a="x",b="y"` (for histograms: without the bucket). */
  labels: string;
  /** `name{labels} ` for counters and gauges, ready for the value. */
  prefix: string;
  /** Scrape generation that last touched it (values are reset on the first touch of a scrape). */
  gen: number;
  value: number;
  counts: Float64Array | undefined;
  sum: number;
  hasSum: boolean;
}

interface CacheEntry {
  /** null when a decoder dropped the key. */
  series: Series | null;
  /** Histograms: the bucket index. */
  bucket: number;
}

export abstract class MapMetric {
  readonly map: string;
  readonly fullName: string;
  protected readonly labels: LabelDecoder[];
  private cache = new Map<number | string, CacheEntry>();
  private seriesByLabels = new Map<string, Series>();
  private gen = 0;
  private cacheBornMs = Date.now();
  private readonly dynamic: boolean;
  protected keySize = 0;
  protected perCpuSum = false;

  constructor(
    readonly kind: MetricKind,
    readonly name: string,
    readonly help: string,
    map: string | undefined,
    private readonly labelSpecs: LabelSpec[],
    env: DecoderEnv,
    prefix: string,
    /** How long decoded labels of lookups that can change (pid → process, cgroup → pod) are kept. */
    private readonly refreshMs = 10_000,
  ) {
    this.map = map ?? name;
    this.fullName = `${prefix}${name}`;
    this.labels = layoutLabels(labelSpecs, env);
    this.dynamic = this.labels.some((l) => !l.static);
  }

  /** Checks the map's type, key and value against the configuration; throws MapLayoutError saying what differs. */
  bind(shape: MapShape): void {
    if (!READABLE.has(shape.type)) {
      throw new MapLayoutError(
        `metric ${this.name}: map '${shape.name}' is a ${shape.typeName} map; metrics come from hash, array, percpu_hash, percpu_array, lru_hash and lru_percpu_hash maps`,
      );
    }
    if (this.labels.length) {
      const end = Math.max(...this.labels.map((l) => l.offset + l.size));
      // Labels placed with explicit offsets may leave trailing padding; laid end to end they must fill the key.
      const explicit = labelSpecsHaveOffsets(this.labelSpecs);
      if (end > shape.keySize || (!explicit && end !== shape.keySize)) {
        throw new MapLayoutError(
          `metric ${this.name}: the key of map '${shape.name}' is ${shape.keySize} bytes but the labels cover ${end} bytes ` +
            `(${describeLabels(this.labels)}): make the label sizes add up to the key size (C struct padding counts: ` +
            'give it a label, or set offset on the labels)',
        );
      }
    }
    this.keySize = shape.keySize;
    this.perCpuSum = [MapType.percpuHash, MapType.percpuArray, MapType.lruPercpuHash].includes(shape.type as 5);
    this.bindValue(shape);
  }

  protected abstract bindValue(shape: MapShape): void;

  /** Starts a scrape: a new generation; labels of changing lookups are decoded afresh now and then. */
  protected beginScrape(): Series[] {
    this.gen++;
    if ((this.dynamic && Date.now() - this.cacheBornMs > this.refreshMs) || this.cache.size > 2_000_000) {
      this.cache = new Map();
      this.seriesByLabels = new Map();
      this.cacheBornMs = Date.now();
    }
    return [];
  }

  /** The key's identity in the cache: a number for 4- and 8-byte keys (no allocation), else its bytes as text. */
  private keyId(keys: DataView, offset: number): number | string {
    if (this.keySize === 4) return keys.getUint32(offset, true);
    if (this.keySize === 8) {
      const hi = keys.getUint32(offset + 4, true);
      if (hi < 0x200000) return hi * 4294967296 + keys.getUint32(offset, true);
    }
    return Buffer.from(keys.buffer, keys.byteOffset + offset, this.keySize).toString('latin1');
  }

  /** The series a key belongs to (reset for this scrape and listed in `touched` on first use), or null. */
  protected seriesOf(keys: DataView, offset: number, histogram: boolean, touched: Series[]): CacheEntry {
    const id = this.keyId(keys, offset);
    let e = this.cache.get(id);
    if (!e) {
      e = this.decodeKey(Buffer.from(keys.buffer, keys.byteOffset + offset, this.keySize), histogram);
      this.cache.set(id, e);
    }
    const s = e.series;
    if (s && s.gen !== this.gen) {
      s.gen = this.gen;
      s.value = 0;
      s.sum = 0;
      s.hasSum = false;
      s.counts?.fill(0);
      touched.push(s);
    }
    return e;
  }

  private decodeKey(buf: Buffer, histogram: boolean): CacheEntry {
    const n = histogram ? this.labels.length - 1 : this.labels.length;
    let text = '';
    for (let i = 0; i < n; i++) {
      const l = this.labels[i]!;
      const v = l.decode(buf);
      if (v === null) return { series: null, bucket: 0 };
      text += `${i ? ',' : ''}${l.name}="${escapeLabelValue(v)}"`;
    }
    let bucket = 0;
    if (histogram) {
      const b = this.labels[n]!;
      const raw = buf.subarray(b.offset, b.offset + b.size);
      bucket = raw.length >= 4 ? raw.readUInt32LE(0) : raw.length === 2 ? raw.readUInt16LE(0) : raw[0]!;
    }
    let series = this.seriesByLabels.get(text);
    if (!series) {
      series = { labels: text, prefix: text ? `${this.fullName}{${text}} ` : `${this.fullName} `, gen: -1, value: 0, counts: histogram ? new Float64Array(this.bucketSlots()) : undefined, sum: 0, hasSum: false };
      this.seriesByLabels.set(text, series);
    }
    return { series, bucket };
  }

  /** Histograms: buckets + overflow. */
  protected bucketSlots(): number {
    return 0;
  }

  abstract render(batch: MapBatch, out: string[], stats: ScrapeStats): void;

  protected header(out: string[]): void {
    out.push(`# HELP ${this.fullName} ${this.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${this.fullName} ${this.kind}`);
  }
}

export class ValueMetric extends MapMetric {
  private valueOffset = 0;
  private valueSize = 8;
  private readonly skipZero: boolean;

  constructor(kind: 'counter' | 'gauge', private readonly spec: CounterSpec, env: DecoderEnv, prefix: string) {
    super(kind, spec.name, spec.help, spec.map, spec.labels ?? [], env, prefix);
    this.skipZero = spec.skip_zero ?? false;
  }

  protected bindValue(shape: MapShape): void {
    const v = this.spec.value;
    if (v?.size === undefined && ![1, 2, 4, 8].includes(shape.valueSize)) {
      throw new MapLayoutError(
        `metric ${this.name}: the value of map '${shape.name}' is ${shape.valueSize} bytes; say which field to export with value: {offset: N, size: 8}`,
      );
    }
    this.valueOffset = v?.offset ?? 0;
    this.valueSize = v?.size ?? (shape.valueSize >= 8 ? 8 : shape.valueSize);
    if (this.valueOffset + this.valueSize > shape.valueSize) {
      throw new MapLayoutError(`metric ${this.name}: value field ${this.valueOffset}+${this.valueSize} lies outside the ${shape.valueSize}-byte value of map '${shape.name}'`);
    }
  }

  render(batch: MapBatch, out: string[], stats: ScrapeStats): void {
    const touched = this.beginScrape();
    const values = batch.values;
    const perCpu = this.perCpuSum;
    const vo = this.valueOffset;
    const vsize = this.valueSize;
    for (let i = 0; i < batch.count; i++) {
      let v = 0;
      if (perCpu) for (let c = 0; c < batch.cpus; c++) v += readValue(values, batch.valueOffset(i, c) + vo, vsize);
      else v = readValue(values, batch.valueOffset(i) + vo, vsize);
      if (v === 0 && this.skipZero) continue;
      stats.keys++;
      const s = this.seriesOf(batch.keys, batch.keyOffset(i), false, touched).series;
      if (s === null) stats.skipped++;
      else s.value += v;
    }
    this.header(out);
    for (const s of touched) out.push(s.prefix + formatValue(s.value));
  }
}

export class HistogramMetric extends MapMetric {
  /** Upper bound of each bucket index from bucket_min (exp2, exp2zero, linear), or of each bucket key (fixed). */
  readonly bounds: number[];
  private readonly indexOf: (bucket: number) => number;
  private readonly sumBucket: number | undefined;
  private valueSize = 8;

  constructor(private readonly spec: HistogramSpec, env: DecoderEnv, prefix: string) {
    super('histogram', spec.name, spec.help, spec.map, spec.labels ?? [], env, prefix);
    const mult = spec.bucket_multiplier ?? 1;
    const min = spec.bucket_min ?? 0;
    const max = spec.bucket_max ?? 0;
    switch (spec.bucket_type) {
      case 'fixed': {
        const keys = [...(spec.bucket_keys ?? [])].sort((a, b) => a - b);
        this.bounds = keys.map((k) => k * mult);
        this.indexOf = (b) => {
          const i = keys.findIndex((k) => b <= k);
          return i < 0 ? keys.length : i;
        };
        this.sumBucket = undefined;
        break;
      }
      default: {
        const le = (i: number): number =>
          spec.bucket_type === 'linear' ? i * mult : spec.bucket_type === 'exp2zero' ? (i === 0 ? 0 : 2 ** (i - 1) * mult) : 2 ** i * mult;
        this.bounds = [];
        for (let i = min; i <= max; i++) this.bounds.push(le(i));
        this.indexOf = (b) => (b > max ? this.bounds.length : Math.max(0, b - min));
        // The key one past bucket_max holds the sum of observed values (see examples/programs/README.md).
        this.sumBucket = max + 1;
      }
    }
  }

  protected bindValue(shape: MapShape): void {
    if (![4, 8].includes(shape.valueSize)) {
      throw new MapLayoutError(`metric ${this.name}: histogram map '${shape.name}' must hold a count per bucket (u32 or u64), its value is ${shape.valueSize} bytes`);
    }
    if (this.labels.length === 0) throw new MapLayoutError(`metric ${this.name}: a histogram needs a bucket label (the last label)`);
    this.valueSize = shape.valueSize;
  }

  protected override bucketSlots(): number {
    return this.bounds.length + 1;
  }

  render(batch: MapBatch, out: string[], stats: ScrapeStats): void {
    const nb = this.bounds.length;
    const touched = this.beginScrape();
    const vsize = this.valueSize;
    for (let i = 0; i < batch.count; i++) {
      let v = 0;
      if (this.perCpuSum) for (let c = 0; c < batch.cpus; c++) v += readValue(batch.values, batch.valueOffset(i, c), vsize);
      else v = readValue(batch.values, batch.valueOffset(i), vsize);
      stats.keys++;
      const e = this.seriesOf(batch.keys, batch.keyOffset(i), true, touched);
      const g = e.series;
      if (g === null) {
        stats.skipped++;
        continue;
      }
      if (e.bucket === this.sumBucket) {
        g.sum += v;
        g.hasSum = true;
      } else g.counts![this.indexOf(e.bucket)]! += v;
    }
    this.header(out);
    const name = this.fullName;
    for (const g of touched) {
      const labels = g.labels;
      const counts = g.counts!;
      const sep = labels ? ',' : '';
      let cum = 0;
      for (let i = 0; i < nb; i++) {
        cum += counts[i]!;
        out.push(`${name}_bucket{${labels}${sep}le="${formatValue(this.bounds[i]!)}"} ${cum}`);
      }
      cum += counts[nb]!;
      out.push(`${name}_bucket{${labels}${sep}le="+Inf"} ${cum}`);
      if (g.hasSum) out.push(labels ? `${name}_sum{${labels}} ${formatValue(g.sum)}` : `${name}_sum ${formatValue(g.sum)}`);
      out.push(labels ? `${name}_count{${labels}} ${cum}` : `${name}_count ${cum}`);
    }
  }
}
