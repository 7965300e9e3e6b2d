// The standalone exporter: program sets from configuration files, their maps as Prometheus metrics.
import type { Logger } from 'pino';
import { hostname, release } from 'node:os';
import { enableBpfStats, features } from '../bpf/index.js';
import { CgroupPaths } from '../lib/cgroups.js';
import { startOrStop } from '../lib/lifecycle.js';
import { renderBpfRuns } from '../lib/metrics.js';
import { startHttpServer, formatListen, type Endpoint, type ListenAddress } from '../lib/http.js';
import type { WebConfig } from '../lib/web-config.js';
import { VERSION } from '../lib/version.js';
import { loadConfigPaths, type ConfigError, type ProgramConfig } from './config.js';
import { ProgramRegistry } from './registry.js';
import { SystemDecoderEnv } from './decoders/index.js';
import type { PodIndex } from './decoders/kube.js';
import type { ProgramStatus } from './loader.js';

export function systemDecoderEnv(pods?: PodIndex): SystemDecoderEnv {
  let root: string | undefined;
  try {
    root = features.cgroup2Root();
  } catch {
    root = undefined;
  }
  const cgroups = root ? new CgroupPaths(root) : { name: (id: number) => String(id) };
  return new SystemDecoderEnv(cgroups, pods);
}

/** One line per program set for people (and CI logs). */
export function formatStatus(s: ProgramStatus): string {
  const lines: string[] = [];
  if (s.error) {
    lines.push(`FAIL  ${s.name} (${s.source}): ${s.error.stage}: ${s.error.message.split('\n').join('\n        ')}`);
  } else {
    lines.push(`ok    ${s.name} (${s.source}): loaded; metrics: ${s.metrics.join(', ')}`);
  }
  for (const a of s.attached) lines.push(`      ${a.ok ? 'attached' : 'FAILED  '} ${a.program} (SEC "${a.section}")${a.ok ? ` → ${a.target}` : `: ${(a.error ?? '').split('\n')[0]}`}`);
  for (const w of s.warnings) lines.push(`      warning: ${w}`);
  return lines.join('\n');
}

export function formatConfigError(e: ConfigError): string {
  return `FAIL  ${e.source}: configuration:\n        ${e.problems.join('\n        ')}`;
}

/** --check: load and attach every program set, report each, close them. Returns whether all succeeded. */
export function checkPrograms(paths: string[], write: (line: string) => void): boolean {
  const { configs, errors } = loadConfigPaths(paths);
  for (const e of errors) write(formatConfigError(e));
  const registry = new ProgramRegistry(systemDecoderEnv());
  let ok = errors.length === 0;
  try {
    for (const c of configs) {
      const s = registry.apply(c);
      write(formatStatus(s));
      if (s.error) ok = false;
    }
    // A scrape, so that a map that cannot be read fails the check too.
    registry.render();
    for (const name of registry.names()) {
      const p = registry.get(name)!;
      if (p.ok && p.readErrors > 0) {
        write(`FAIL  ${name}: reading its maps failed during a test scrape`);
        ok = false;
      }
    }
  } finally {
    registry.close();
  }
  write(`${ok ? 'ok' : 'FAIL'}: ${configs.length} program set(s), ${errors.length} configuration error(s)`);
  return ok;
}

/** Loads program sets from files into a registry, logging each result (the agent's --programs). */
export function startPrograms(paths: string[], log: Logger, bpfStats: () => boolean, pods?: PodIndex): ProgramRegistry & { configErrors: ConfigError[] } {
  const registry = Object.assign(new ProgramRegistry(systemDecoderEnv(pods), bpfStats), { configErrors: [] as ConfigError[] });
  const { configs, errors } = loadConfigPaths(paths);
  registry.configErrors = errors;
  for (const e of errors) log.error({ source: e.source, problems: e.problems }, `configuration ${e.source} is invalid; its programs are not loaded`);
  for (const c of configs) logStatus(log, registry.apply(c));
  return registry;
}

function logStatus(log: Logger, status: ProgramStatus): void {
  for (const w of status.warnings) log.warn({ program: status.name }, w);
  if (status.error) log.error({ program: status.name, stage: status.error.stage, reason: status.error.reason }, `program set ${status.name}: ${status.error.message}`);
  else log.info({ program: status.name, attached: status.attached.map((a) => a.target) }, `program set ${status.name} loaded`);
}

export type { ProgramRegistry };

export interface ExporterOptions {
  configPaths: string[];
  listen: ListenAddress;
  /** TLS and credentials for the endpoint (--web.config.file). */
  web?: WebConfig;
  /** /capabilities also when listening beyond loopback. */
  enableDetails?: boolean;
  bpfStats: boolean;
  log: Logger;
}

export class Exporter {
  registry: ProgramRegistry = new ProgramRegistry(systemDecoderEnv());
  private server: Endpoint | undefined;
  private stats: { close(): void } | undefined;
  private configErrors: ConfigError[] = [];
  private readonly startedAt = new Date();

  private constructor(private readonly options: ExporterOptions) {}

  static start(options: ExporterOptions): Promise<Exporter> {
    return startOrStop(new Exporter(options), (e) => e.init());
  }

  /** The program sets' metrics and the BPF run-time metrics of their programs. */
  render(): string {
    const out: string[] = [];
    renderBpfRuns(out, this.registry.bpfRuns(), this.stats !== undefined);
    out.push('');
    return this.registry.render() + out.join('\n');
  }

  private async init(): Promise<void> {
    const { log } = this.options;
    if (this.options.bpfStats) this.stats = enableBpfStats();
    const registry = startPrograms(this.options.configPaths, log, () => this.stats !== undefined);
    this.registry = registry;
    this.configErrors = registry.configErrors;
    this.server = await startHttpServer(this.options.listen, {
      metrics: async () => this.render(),
      health: () => ({ ok: true, detail: { programs: this.registry.statuses().length, failed: this.registry.statuses().filter((s) => s.error).length } }),
      capabilities: () => this.capabilities(),
    }, log, { web: this.options.web, enableDetails: this.options.enableDetails, component: 'exporter' });
    log.info({ listen: formatListen(this.options.listen) }, `serving metrics on ${this.server.tls ? 'https' : 'http'}://${formatListen(this.options.listen)}/metrics`);
  }

  apply(c: ProgramConfig): ProgramStatus {
    const status = this.registry.apply(c);
    logStatus(this.options.log, status);
    return status;
  }

  capabilities(): unknown {
    return {
      node: hostname(),
      kernel: release(),
      exporter: { version: VERSION, startedAt: this.startedAt.toISOString() },
      programs: this.registry.statuses(),
      configurationErrors: this.configErrors.map((e) => ({ source: e.source, problems: e.problems })),
      bpfStats: this.stats !== undefined,
    };
  }

  async stop(): Promise<void> {
    await this.server?.close();
    this.server = undefined;
    this.registry.close();
    this.stats?.close();
  }
}
