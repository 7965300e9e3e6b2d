// Metrics declared once, rendered with the exposition writer: small labelled families for
// self-metrics (a few series each), the process_* metrics, and the BPF run-time metrics every
// component reports under one name.
import { readdirSync, readFileSync } from 'node:fs';
import { catalogue, header, labelString, sample, type MetricDef } from './exposition.js';
import json from './metrics.json' with { type: 'json' };
import { Histogram, leLabels } from './histogram.js';

/** A metric with a few labelled series, set or incremented by name. */
export class Family {
  private readonly rows = new Map<string, number>();

  constructor(readonly def: MetricDef) {}

  private keyOf(labels: Readonly<Record<string, string>>): string {
    const pairs = Object.entries(labels);
    return pairs.length ? labelString(pairs) : '';
  }

  inc(labels: Readonly<Record<string, string>> = {}, n = 1): void {
    const k = this.keyOf(labels);
    this.rows.set(k, (this.rows.get(k) ?? 0) + n);
  }

  /**
   * Sets a series. For counters the value is a cumulative total read elsewhere (the kernel, a
   * component's own count): it never goes back.
   */
  set(value: number, labels: Readonly<Record<string, string>> = {}): void {
    const k = this.keyOf(labels);
    if (this.def.type === 'counter') {
      const prev = this.rows.get(k);
      if (prev !== undefined && value < prev) return;
    }
    this.rows.set(k, value);
  }

  get(labels: Readonly<Record<string, string>> = {}): number {
    return this.rows.get(this.keyOf(labels)) ?? 0;
  }

  render(out: string[]): void {
    header(out, this.def);
    for (const [labels, v] of this.rows) sample(out, this.def.name, labels, v);
  }
}

/** One unlabelled histogram (e.g. how long each interval took). */
export class HistogramFamily {
  private readonly h: Histogram;
  private readonly le: string[];

  constructor(
    readonly def: MetricDef,
    bounds: readonly number[],
  ) {
    this.h = new Histogram(bounds);
    this.le = leLabels(bounds);
  }

  observe(v: number): void {
    this.h.observe(v);
  }

  /** Starts a timer; calling the result observes the seconds elapsed. */
  startTimer(): () => void {
    const t0 = process.hrtime.bigint();
    return () => this.observe(Number(process.hrtime.bigint() - t0) / 1e9);
  }

  render(out: string[]): void {
    header(out, this.def);
    // Unlabelled: bucket lines carry only `le`.
    let cumulative = 0;
    for (let i = 0; i < this.h.bounds.length; i++) {
      cumulative += this.h.counts[i]!;
      out.push(`${this.def.name}_bucket{le="${this.le[i]}"} ${cumulative}`);
    }
    out.push(`${this.def.name}_bucket{le="+Inf"} ${this.h.count}`);
    sample(out, `${this.def.name}_sum`, '', this.h.sum);
    sample(out, `${this.def.name}_count`, '', this.h.count);
  }
}

const LIB_METRICS = catalogue(json);

/** The BPF run-time metrics, one name for every component (tcp, flows, program...). */
export const BPF_RUN_METRICS = LIB_METRICS.bpf;
const PROCESS_METRICS = LIB_METRICS.process;
/** What every endpoint (src/lib/http.ts) says about itself. */
export const HTTP_METRICS = LIB_METRICS.http;

export interface BpfRunRow {
  component: string;
  program: string;
  /** Custom program set, for component "program". */
  set?: string;
  runTimeNs: number;
  runCount: number;
  recursionMisses: number;
}

/** Renders the BPF run-time metrics of every component's programs (time and runs only with statistics on). */
export function renderBpfRuns(out: string[], rows: readonly BpfRunRow[], withStats: boolean): void {
  const labels = (r: BpfRunRow): string => labelString([['component', r.component], ...(r.set !== undefined ? ([['set', r.set]] as Array<[string, string]>) : []), ['program', r.program]]);
  header(out, BPF_RUN_METRICS.runMisses);
  for (const r of rows) sample(out, BPF_RUN_METRICS.runMisses.name, labels(r), r.recursionMisses);
  if (!withStats) return;
  header(out, BPF_RUN_METRICS.runSeconds);
  for (const r of rows) sample(out, BPF_RUN_METRICS.runSeconds.name, labels(r), r.runTimeNs / 1e9);
  header(out, BPF_RUN_METRICS.runs);
  for (const r of rows) sample(out, BPF_RUN_METRICS.runs.name, labels(r), r.runCount);
}


const startTime = Date.now() / 1000 - process.uptime();

function openFds(): number {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return 0;
  }
}

let maxFdsCached: number | undefined;
function maxFds(): number {
  if (maxFdsCached === undefined) {
    try {
      const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
      maxFdsCached = Number(line?.split(/\s+/)[3]) || 0;
    } catch {
      maxFdsCached = 0;
    }
  }
  return maxFdsCached;
}

/** CPU, memory and file descriptors of this process, in the standard process_* names. */
export function renderProcessMetrics(out: string[]): void {
  const u = process.cpuUsage();
  const rows: Array<[MetricDef, number]> = [
    [PROCESS_METRICS.cpu, (u.user + u.system) / 1e6],
    [PROCESS_METRICS.rss, process.memoryUsage.rss()],
    [PROCESS_METRICS.heap, process.memoryUsage().heapUsed],
    [PROCESS_METRICS.fds, openFds()],
    [PROCESS_METRICS.maxFds, maxFds()],
    [PROCESS_METRICS.start, startTime],
  ];
  for (const [def, v] of rows) {
    header(out, def);
    sample(out, def.name, '', v);
  }
}
