// `flowscope exporter`: your own eBPF programs' maps as Prometheus metrics (standalone, :9435).
import type { Command } from 'commander';
import { parseListen, requireBpfPrivileges } from './options.js';
import { createLogger } from '../lib/log.js';
import { UsageError } from './errors.js';
import { addWebOptions, webOptionsFrom, type WebFlags } from './web-options.js';

interface ExporterFlags extends WebFlags {
  config?: string[];
  listen: string;
  check?: boolean;
  bpfStats?: boolean;
  logLevel: string;
}

export function registerExporter(program: Command): void {
  addWebOptions(program.command('exporter'), '/capabilities')
    .description('load your own eBPF programs (.bpf.o + YAML) and export their maps as Prometheus metrics (on :9435)')
    .option('--config <file...>', 'program configuration files (YAML) or directories of them')
    .option('--listen <addr>', 'address of the Prometheus endpoint (/metrics, /healthz, /capabilities)', '127.0.0.1:9435')
    .option('--check', 'load and attach every program, report each, and exit non-zero if any fails (for CI)')
    .option('--bpf-stats', 'turn on kernel BPF run-time statistics while running (flowscope_program_bpf_run_seconds_total)')
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent', 'info')
    .action(async (flags: ExporterFlags) => {
      const { Exporter, checkPrograms } = await import('../programs/exporter.js');
      if (!flags.config?.length) throw new UsageError('exporter needs --config FILE (a program configuration, see examples/programs/)');
      const listen = parseListen(flags.listen);
      const web = webOptionsFrom(flags);
      const log = createLogger(flags.logLevel, 'flowscope-exporter');
      requireBpfPrivileges('exporter');
      if (flags.check) {
        const ok = checkPrograms(flags.config, (line) => process.stdout.write(`${line}\n`));
        process.exitCode = ok ? 0 : 1;
        return;
      }
      const exporter = await Exporter.start({ configPaths: flags.config, listen, ...web, bpfStats: flags.bpfStats ?? false, log });
      await new Promise<void>((resolve) => {
        const stop = (signal: string): void => {
          log.info({ signal }, 'stopping');
          exporter.stop().finally(() => resolve());
        };
        process.once('SIGINT', () => stop('SIGINT'));
        process.once('SIGTERM', () => stop('SIGTERM'));
      });
    });
}
