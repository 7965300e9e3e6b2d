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
    const hub = await startHubFromOptions({ ...flags, listen: flags.hubListen }, log);
    try {
      const token = flags.tokenFile;
      const options = agentOptionsFrom({ ...(flags as unknown as Parameters<typeof agentOptionsFrom>[0]), hub: flags.hub ?? hub.url, hubTokenFile: token });
      const status = setTimeout(() => {
        const agents = hub.ingest?.runs.current() ?? [];
        const reporting = agents.filter((r) => Date.now() - r.lastHeardMs < Math.max(10_000, 3 * r.intervalMs));
        process.stdout.write(
          `flowscope is up: open ${hub.url}/ (API: ${hub.url}/api/openapi.json)\n` +
            `  agent: metrics on http://${options.listen.host}:${options.listen.port}/metrics, sending to the hub every ${options.intervalMs} ms\n` +
            `  hub: ${reporting.length} of ${agents.length} node(s) reporting, history in ${flags.data}\n`,
        );
      }, Math.max(3_000, 3 * 1000));
      status.unref();
      await runAgent(options);
      clearTimeout(status);
    } finally {
      await hub.close();
    }
  });
}
