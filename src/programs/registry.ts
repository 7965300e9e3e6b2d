// The program sets one process runs (exporter, agent with --programs, or the BpfProgram watcher):
// add, replace and remove by name; one set's failure never touches the others; metrics of all of them
// plus self-metrics about each (up, decode drops, read errors, map entries, render time, BPF run time).
import type { ProgramConfig } from './config.js';
import { LoadedProgram, notLoadedStatus, type ProgramStatus } from './loader.js';
import type { DecoderEnv } from './decoders/index.js';
import { escapeLabelValue } from '../agent/metrics/exposition.js';

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

  /** Every program set's metrics, then the self-metrics. */
  render(): string {
    const out: string[] = [];
    const list = [...this.programs.values()];
    for (const p of list) p.render(out);
    const lbl = (pairs: Array<[string, string]>): string => pairs.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(',');
    const family = (name: string, type: string, help: string, rows: Array<[Array<[string, string]>, number]>): void => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [labels, v] of rows) out.push(`${name}{${lbl(labels)}} ${v}`);
    };
    family('flowscope_program_up', 'gauge', 'Whether the program set is loaded and attached (1) or failed (0; /capabilities gives the reason).',
      list.map((p) => [[['program', p.config.name]], p.ok ? 1 : 0]));
    family('flowscope_program_start_failures_total', 'counter', 'Times a program set failed to start, by stage (open, metrics, load, attach).',
      [...this.failures].map(([k, v]) => {
        const [program, stage] = k.split('\u0000') as [string, string];
        return [[['program', program], ['stage', stage]], v];
      }));
    family('flowscope_program_keys_dropped_total', 'counter', 'Map keys left out of a metric because a decoder dropped them (static_map without the value, regexp without a match).',
      list.flatMap((p) => [...p.skipped].map(([metric, n]): [Array<[string, string]>, number] => [[['program', p.config.name], ['metric', metric]], n])));
    family('flowscope_program_read_errors_total', 'counter', 'Map reads or renders that failed during a scrape.',
      list.filter((p) => p.ok).map((p) => [[['program', p.config.name]], p.readErrors]));
    family('flowscope_program_map_entries', 'gauge', 'Entries in each exported map at the last scrape.',
      list.flatMap((p) => [...p.entries].map(([map, n]): [Array<[string, string]>, number] => [[['program', p.config.name], ['map', map]], n])));
    family('flowscope_program_render_seconds', 'gauge', 'Time the last scrape spent reading and rendering the program set\'s maps.',
      list.filter((p) => p.ok).map((p) => [[['program', p.config.name]], p.lastRenderSeconds]));
    const stats = list.flatMap((p) => p.programStats().map((s) => ({ set: p.config.name, ...s })));
    family('flowscope_program_bpf_run_misses_total', 'counter', 'Runs of each BPF program the kernel skipped because the program was already running on that CPU (an event interrupting another): what they would have counted is missing from the program\'s maps.',
      stats.map((s) => [[['program', s.set], ['bpf_program', s.program]], s.recursionMisses]));
    if (this.bpfStats()) {
      family('flowscope_program_bpf_run_seconds_total', 'counter', 'Time the kernel spent running each BPF program (while kernel BPF statistics are on).',
        stats.map((s) => [[['program', s.set], ['bpf_program', s.program]], s.runTimeNs / 1e9]));
      family('flowscope_program_bpf_runs_total', 'counter', 'Runs of each BPF program (while kernel BPF statistics are on).',
        stats.map((s) => [[['program', s.set], ['bpf_program', s.program]], s.runCount]));
    }
    out.push('');
    return out.join('\n');
  }

  close(): void {
    for (const p of this.programs.values()) p.close();
    this.programs.clear();
  }
}
