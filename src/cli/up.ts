// `flowscope up`: everything on this one machine: the hub (API and UI on :4040, history under
// /var/lib/flowscope) and the agent (metrics on :9387) sending it this node's edges.
import type { Command } from 'commander';
import { addAgentOptions, agentOptionsFrom, runAgent } from './agent.js';
import { addHubOptions, startHubFromOptions, type HubStartOptions } from './hub.js';
import { requireBpfPrivileges } from './options.js';
import { createLogger } from '../lib/log.js';

interface UpFlags extends Omit<HubStartOptions, 'listen'> {
  hubListen: string;
  hub?: string;
  logLevel: string;
  logFormat: string;
  [flag: string]: unknown;
}

export function registerUp(program: Command): void {
  const cmd = program.command('up').description('run flowscope on this host: the hub (API and UI on :4040) and the agent (metrics on :9387) sending it this node\'s edges');
  addHubOptions(addAgentOptions(cmd), 'hub-').action(async (flags: UpFlags) => {
    requireBpfPrivileges('up');
    const log = createLogger({ level: flags.logLevel, format: flags.logFormat, name: 'flowscope-up' });
    // --web.config.file is the agent's endpoint's here; the hub of `up` is for this host (loopback by default).
    const hub = await startHubFromOptions({ ...flags, listen: flags.hubListen, 'web.config.file': undefined }, log);
    try {
      const token = flags.tokenFile;
      const options = agentOptionsFrom({ ...(flags as unknown as Parameters<typeof agentOptionsFrom>[0]), hub: flags.hub ?? hub.url, hubTokenFile: token });
      // The status once this node's agent reports to the hub (or after 20 s, saying it does not).
      let stopped = false;
      const status = (async (): Promise<void> => {
        const deadline = Date.now() + 20_000;
        const reporting = (): number => (hub.ingest?.runs.current() ?? []).filter((r) => Date.now() - r.lastHeardMs < Math.max(10_000, 3 * r.intervalMs)).length;
        while (!stopped && reporting() === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
        if (stopped) return;
        const agents = hub.ingest?.runs.current() ?? [];
        process.stdout.write(
          `flowscope is up: open ${hub.url}/ (API: ${hub.url}/api/openapi.json)\n` +
            `  agent: metrics on http://${options.listen.host}:${options.listen.port}/metrics, sending to the hub every ${options.intervalMs} ms${await attached(options.listen)}\n` +
            `  hub: ${reporting()} of ${agents.length} node(s) reporting${reporting() === 0 ? ' (none yet after 20 s: see the agent\'s log)' : ''}, history in ${flags.data}\n`,
        );
      })();
      await runAgent(options);
      stopped = true;
      await status;
    } finally {
      await hub.close();
    }
  });
}

/** What the agent attached, from its /capabilities (on loopback only; '' when it cannot be asked). */
async function attached(listen: { host: string; port: number }): Promise<string> {
  const host = listen.host === '0.0.0.0' ? '127.0.0.1' : listen.host === '::' ? '::1' : listen.host;
  try {
    const res = await fetch(`http://${host.includes(':') ? `[${host}]` : host}:${listen.port}/capabilities`, { signal: AbortSignal.timeout(2000) });
    if (!res.ok) return '';
    const caps = (await res.json()) as { tcp?: { hooks?: Array<{ group: string; hook: string | null }> }; flows?: { interfaces?: Array<{ attached: boolean }> } | null };
    const hooks = (caps.tcp?.hooks ?? []).map((h) => `${h.group} ${h.hook ?? 'none'}`).join(', ');
    const ifaces = caps.flows?.interfaces?.filter((i) => i.attached).length;
    return `\n  attached: TCP ${hooks}${ifaces !== undefined ? `; flows on ${ifaces} interface(s)` : '; flows off'}`;
  } catch {
    return '';
  }
}
