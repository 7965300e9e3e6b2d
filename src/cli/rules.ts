// `flowscope rules`: Prometheus recording and alerting rules over the agent's own metrics, for
// those who run no hub (connection failure burn rates, new resets, DNS errors). The thresholds
// come from the same alerts file as the hub's (--config), or its defaults.
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { AlertsConfigError, defaultAlertsConfig, loadAlertsConfig } from '../hub/alerts/config/load.js';
import { prometheusRules } from '../hub/alerts/prometheus-rules.js';
import { parseDurationMs } from '../hub/api/params.js';
import { UsageError } from './errors.js';

interface RulesFlags {
  config?: string;
  output?: string;
  for: string;
  groupPrefix: string;
}

export function registerRules(program: Command): void {
  program
    .command('rules')
    .description("Prometheus alerting and recording rules for the agent's metrics: failure burn rates, new resets, DNS errors (check with promtool check rules)")
    .option('--config <file>', 'the alerts file whose objective, burn windows and floors the rules use (default: the built-in defaults)')
    .option('-o, --output <file>', 'write the rules here instead of to stdout')
    .option('--for <duration>', 'how long new resets must last before they alert', '2m')
    .option('--group-prefix <name>', 'prefix of the rule groups\' names', 'flowscope')
    .action((flags: RulesFlags) => {
      let config;
      try {
        config = flags.config ? loadAlertsConfig(flags.config, { externalUrl: '' }) : defaultAlertsConfig({ externalUrl: '' });
      } catch (err) {
        if (err instanceof AlertsConfigError) throw new UsageError(err.message);
        throw err;
      }
      let forMs: number;
      try {
        forMs = parseDurationMs(flags.for, '--for');
      } catch {
        throw new UsageError(`--for '${flags.for}' is not a duration: use e.g. 30s, 2m`);
      }
      if (!/^[a-zA-Z0-9_.:-]+$/.test(flags.groupPrefix)) throw new UsageError(`--group-prefix '${flags.groupPrefix}': use letters, digits, _ . : -`);
      const text = prometheusRules(config, { groupPrefix: flags.groupPrefix, forMs });
      if (flags.output) writeFileSync(flags.output, text);
      else process.stdout.write(text);
    });
}
