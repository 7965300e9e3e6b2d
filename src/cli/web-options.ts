// --web.config.file and --web.enable-details, shared by every command that serves an endpoint (agent,
// exporter, hub): the file is read and checked before anything starts, and a bad one is a usage error
// naming each problem with its line.
import type { Command } from 'commander';
import { loadWebConfig, WebConfigError, type WebConfig } from '../lib/web-config.js';
import { UsageError } from './errors.js';

export interface WebFlags {
  'web.config.file'?: string;
  'web.enableDetails'?: boolean;
}

export function addWebConfigOption(cmd: Command): Command {
  return cmd.option('--web.config.file <file>', 'TLS and basic authentication for the endpoint, in the Prometheus exporter-toolkit format (tls_server_config, basic_auth_users with bcrypt hashes)');
}

export function addWebOptions(cmd: Command, details = '/capabilities and /connections'): Command {
  return addWebConfigOption(cmd).option('--web.enable-details', `serve ${details} even when listening beyond loopback (they name processes and peers; off by default there)`);
}

/** Whether a web configuration keeps strangers out: credentials or a verified client certificate. */
export function authenticates(web: WebConfig | undefined): boolean {
  if (!web) return false;
  const c = web.tls?.clientAuth;
  return web.users.size > 0 || c === 'RequireAndVerifyClientCert' || c === 'RequireClientCert';
}

export function webOptionsFrom(flags: WebFlags): { web?: WebConfig; enableDetails: boolean } {
  const file = flags['web.config.file'];
  let web: WebConfig | undefined;
  if (file !== undefined) {
    try {
      web = loadWebConfig(file);
    } catch (err) {
      if (err instanceof WebConfigError) throw new UsageError(`--web.config.file: ${err.message}`);
      throw err;
    }
  }
  return { ...(web ? { web } : {}), enableDetails: flags['web.enableDetails'] ?? false };
}
