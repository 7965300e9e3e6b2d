// `flowscope hub`: the cluster's live service map. Agents send it their edges (--hub on the agent);
// it joins client and server views, keeps history, and serves the API and the UI.
import type { Command } from 'commander';
import { startHub, type RunningHub } from '../hub/hub.js';
import { ApiError, formatDuration, parseDurationMs } from '../hub/api/params.js';
import { VERSION } from '../lib/version.js';
import { repoPath } from '../lib/paths.js';
import { createLogger } from '../lib/log.js';
import { readSecretFile } from '../lib/secret-file.js';
import { UsageError } from './errors.js';
import { parseListen } from './options.js';
import { addWebConfigOption, authenticates, webOptionsFrom } from './web-options.js';
import { hostname } from 'node:os';
import { AlertsConfigError, defaultAlertsConfig, loadAlertsConfig } from '../hub/alerts/config/load.js';
import type { AlertsConfig } from '../hub/alerts/config/types.js';

export interface HubCliOptions extends HubStartOptions {
  logLevel: string;
  logFormat: string;
}

export const HUB_DEFAULTS = { listen: '127.0.0.1:4040', data: '/var/lib/flowscope', retention: '24h' };

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host) || /^::ffff:127\./i.test(host);
}

/** The token in a file (whitespace around it ignored): refused when empty, short or readable by anyone. */
export function readTokenFile(path: string, flag: string): string {
  let text: string;
  try {
    text = readSecretFile(path);
  } catch (err) {
    throw new UsageError(`${flag} ${(err as Error).message}`);
  }
  if (text.length < 16) throw new UsageError(`${flag} ${path} holds no token of at least 16 characters: write one, e.g. head -c 32 /dev/urandom | base64 > ${path}`);
  return text;
}

function parseRetentionLike(value: string, flag: string): number {
  try {
    return parseDurationMs(value, flag);
  } catch {
    throw new UsageError(`${flag} '${value}' is not a duration: use e.g. 15s, 1m`);
  }
}

function parseRetention(value: string): number {
  try {
    const ms = parseDurationMs(value, '--retention');
    if (ms < 3_600_000 || ms > 366 * 86_400_000) throw new UsageError(`--retention '${value}' is out of range: use 1h to 366d`);
    return ms;
  } catch (err) {
    if (err instanceof ApiError) throw new UsageError(`--retention '${value}' is not a duration: use e.g. 24h, 7d`);
    throw err;
  }
}

export function addHubOptions(cmd: Command, prefix = ''): Command {
  // `up` runs the agent beside the hub: its --web.config.file is the agent's endpoint's.
  if (!prefix) addWebConfigOption(cmd);
  return cmd
    .option(`--${prefix}listen <addr>`, 'address for the API, the UI and agents (HOST:PORT)', HUB_DEFAULTS.listen)
    .option('--data <dir>', 'where history is kept (DuckDB, Parquet files)', HUB_DEFAULTS.data)
    .option('--retention <duration>', 'how long history is kept (1-minute resolution; interval resolution for the last hour)', HUB_DEFAULTS.retention)
    .option('--token-file <path>', 'bearer token required from agents and API clients (beyond loopback, this or credentials in --web.config.file are required)')
    .option('--web <dir>', 'the UI files to serve at / (default: dist/web of this installation)')
    .option('--memory-limit <size>', "DuckDB's memory limit", '1GB')
    .option('--alerts <file>', 'alert rules, thresholds per namespace or workload, and receivers (YAML; see docs/alerts.md); without it the default rules run with no receivers')
    .option('--no-alerts', 'no alerting');
}

export interface HubStartOptions {
  listen: string;
  prometheus?: string;
  prometheusStep?: string;
  data: string;
  retention: string;
  tokenFile?: string;
  web?: string;
  memoryLimit: string;
  /** A file, false (--no-alerts), or undefined/true: the default rules. */
  alerts?: string | boolean;
  /** TLS and basic authentication of the hub's endpoint (not with `up`). */
  'web.config.file'?: string;
}

/** The alerting configuration the options ask for; errors name the file and line. */
export function alertsFromOptions(o: Pick<HubStartOptions, 'alerts'>, listen: { host: string; port: number }, tls = false): AlertsConfig | false {
  if (o.alerts === false) return false;
  const host = listen.host === '0.0.0.0' || listen.host === '::' ? hostname() : listen.host.includes(':') ? `[${listen.host}]` : listen.host;
  const externalUrl = `${tls ? 'https' : 'http'}://${host}:${listen.port}`;
  try {
    return typeof o.alerts === 'string' ? loadAlertsConfig(o.alerts, { externalUrl }) : defaultAlertsConfig({ externalUrl });
  } catch (err) {
    if (err instanceof AlertsConfigError) throw new UsageError(err.message);
    throw err;
  }
}

/** Checks the options and starts the hub; refuses to listen beyond loopback without a token. */
export async function startHubFromOptions(o: HubStartOptions, log: ReturnType<typeof createLogger>): Promise<RunningHub> {
  const listen = parseListen(o.listen, '--listen');
  const retentionMs = parseRetention(o.retention);
  const token = o.tokenFile ? readTokenFile(o.tokenFile, '--token-file') : undefined;
  const { web } = webOptionsFrom(o);
  if (token && web?.users.size) throw new UsageError('--token-file and basic_auth_users in --web.config.file both use the Authorization header: choose one (agents send the token with --hub-token-file, or the credentials with --hub-basic-auth-file)');
  if (!token && !authenticates(web) && !isLoopback(listen.host)) {
    throw new UsageError(
      `--listen ${o.listen} reaches beyond this host: give --token-file with a secret (agents then use --hub-token-file), or a --web.config.file with basic_auth_users or required client certificates, or listen on 127.0.0.1`,
    );
  }
  let prometheusUrl: string | undefined;
  if (o.prometheus) {
    try {
      prometheusUrl = new URL(o.prometheus).toString();
    } catch {
      throw new UsageError(`--prometheus '${o.prometheus}' is not a URL: use e.g. http://prometheus:9090`);
    }
  }
  const prometheusStepMs = o.prometheusStep ? parseRetentionLike(o.prometheusStep, '--prometheus-step') : undefined;
  const alerts = alertsFromOptions(o, listen, Boolean(web?.tls));
  const hub = await startHub({ listen, web, dataDir: o.data, retentionMs, token, webDir: o.web ?? repoPath('dist/web'), version: VERSION, log, memoryLimit: o.memoryLimit, prometheusUrl, prometheusStepMs, alerts }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'EADDRINUSE') throw new Error(`cannot listen on ${o.listen}: the port is in use (find it with: ss -ltnp 'sport = :${listen.port}'); choose another with --listen`);
    if (err.code === 'EACCES' && String(err.message).includes(o.data)) throw new Error(`cannot write ${o.data}: run as root or choose another directory with --data`);
    throw err;
  });
  log.info({ url: hub.url, store: prometheusUrl ? `prometheus ${prometheusUrl}` : `embedded ${o.data}`, retention: formatDuration(retentionMs), token: token ? 'required' : 'none', tls: Boolean(web?.tls), basicAuth: (web?.users.size ?? 0) > 0 }, 'hub listening');
  return hub;
}

export function registerHub(program: Command): void {
  addHubOptions(program.command('hub').description("the cluster's live service map: agents send it their edges (--hub URL), it joins both sides, keeps history and serves the API and UI"))
    .option('--prometheus <url>', 'compute the graph and history with PromQL from this Prometheus-compatible store, which scrapes the agents (targets labelled node and zone); the hub keeps no state')
    .option('--prometheus-step <duration>', "that store's scrape interval", '15s')
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent', 'info')
    .option('--log-format <format>', 'auto (text for people on a terminal, JSON lines otherwise), json or text', 'auto')
    .action(async (flags: HubCliOptions) => {
      const log = createLogger({ level: flags.logLevel, format: flags.logFormat, name: 'flowscope-hub' });
      const hub = await startHubFromOptions(flags, log);
      await new Promise<void>((resolve) => {
        const stop = (signal: string): void => {
          log.info({ signal }, 'stopping');
          hub.close().then(resolve, (err: unknown) => {
            log.error({ err }, 'stopping failed');
            resolve();
          });
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });
}
