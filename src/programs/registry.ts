// The program sets one process runs (exporter, agent with --programs, or the BpfProgram watcher):
// add, replace and remove by name; one set's failure never touches the others; metrics of all of them
// plus self-metrics about each (up, decode drops, read errors, map entries, render time, BPF run time).
import type { ProgramConfig } from './config.js';
import { LoadedProgram, notLoadedStatus, type ProgramStatus } from './loader.js';
import type { DecoderEnv } from './decoders/index.js';
import { header, labelString, sample, type MetricDef } from '../lib/exposition.js';
import type { BpfRunRow } from '../lib/metrics.js';
import { PROGRAM_METRICS as M } from './catalogue.js';

export class ProgramRegistry {
  private readonly programs = new Map<string, LoadedProgram>();
  /** Times a program set failed to start, by stage (cumulative; the self-metric). */
  private readonly failures = new Map<string, number>();

  constructor(
    private readonly env: DecoderEnv,
    private readonly bpfStats: () => boolean = () => false,
  ) {}

  /** Starts (or restarts, when the name exists) a program set; returns its status. */
  apply(config: ProgramConfig): ProgramStatus {
    const previous = this.programs.get(config.name);
    const clash = this.metricClash(config);
    if (clash) {
      const status: ProgramStatus = { ...notLoadedStatus(config), error: { stage: 'metrics', message: clash } };
      this.countFailure(config.name, 'metrics');
      return status;
    }
    // The new one starts before the old one goes, so a bad update leaves the old one running.
    const next = LoadedProgram.start(config, this.env);
    if (!next.ok) {
      this.countFailure(config.name, next.status.error!.stage);
      if (!previous?.ok) this.programs.set(config.name, next);
      return next.status;
    }
    previous?.close();
    this.programs.set(config.name, next);
    return next.status;
  }

  private metricClash(config: ProgramConfig): string | undefined {
    const prefix = config.spec.metric_prefix ?? '';
    const mine = [...(config.spec.metrics.counters ?? []), ...(config.spec.metrics.gauges ?? []), ...(config.spec.metrics.histograms ?? [])].map((m) => prefix + m.name);
    for (const [name, p] of this.programs) {
      if (name === config.name) continue;
      const dup = mine.find((m) => p.status.metrics.includes(m));
      if (dup) return `metric ${dup} is already exported by program set '${name}' (${p.config.source}): metric names must be unique`;
    }
    return undefined;
  }

  private countFailure(name: string, stage: string): void {
    const k = `${name}\u0000${stage}`;
    this.failures.set(k, (this.failures.get(k) ?? 0) + 1);
  }

  remove(name: string): boolean {
    const p = this.programs.get(name);
    if (!p) return false;
    p.close();
    this.programs.delete(name);
    return true;
  }

  get(name: string): LoadedProgram | undefined {
    return this.programs.get(name);
  }

  names(): string[] {
    return [...this.programs.keys()];
  }

  statuses(): ProgramStatus[] {
    return [...this.programs.values()].map((p) => p.status);
  }

  /** Every program set's metrics, then the self-metrics (BPF run times: see bpfRuns). */
  render(): string {
    const out: string[] = [];
    const list = [...this.programs.values()];
    for (const p of list) p.render(out);
    const family = (def: MetricDef, rows: Array<[Array<[string, string]>, number]>): void => {
      header(out, def);
      for (const [labels, v] of rows) sample(out, def.name, labelString(labels), v);
    };
    family(M.up, list.map((p) => [[['program', p.config.name]], p.ok ? 1 : 0]));
    family(
      M.startFailures,
      [...this.failures].map(([k, v]) => {
        const [program, stage] = k.split('\u0000') as [string, string];
        return [[['program', program], ['stage', stage]], v];
      }),
    );
    family(M.keysDropped, list.flatMap((p) => [...p.skipped].map(([metric, n]): [Array<[string, string]>, number] => [[['program', p.config.name], ['metric', metric]], n])));
    family(M.readErrors, list.filter((p) => p.ok).map((p) => [[['program', p.config.name]], p.readErrors]));
    family(M.mapEntries, list.flatMap((p) => [...p.entries].map(([map, n]): [Array<[string, string]>, number] => [[['program', p.config.name], ['map', map]], n])));
    family(M.renderSeconds, list.filter((p) => p.ok).map((p) => [[['program', p.config.name]], p.lastRenderSeconds]));
    out.push('');
    return out.join('\n');
  }

  /** The BPF programs of every set with their kernel run statistics. */
  bpfRuns(): BpfRunRow[] {
    return [...this.programs.values()].flatMap((p) => p.programStats().map((s) => ({ component: 'program', set: p.config.name, ...s })));
  }

  /** Whether kernel BPF statistics are on (run time and runs are rendered only then). */
  get bpfStatsOn(): boolean {
    return this.bpfStats();
  }

  close(): void {
    for (const p of this.programs.values()) p.close();
    this.programs.clear();
  }
}
