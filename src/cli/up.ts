// `flowscope up`: everything on this one machine. Today: the agent; the hub and UI join it here.
import type { Command } from 'commander';
import { addAgentOptions, agentOptionsFrom, runAgent } from './agent.js';
import { requireBpfPrivileges } from './options.js';

export function registerUp(program: Command): void {
  addAgentOptions(program.command('up').description('run flowscope on this host: the agent (metrics on :9387)')).action(async (flags) => {
    requireBpfPrivileges('up');
    await runAgent(agentOptionsFrom(flags));
  });
}
