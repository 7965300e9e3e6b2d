// The `flowscope` command line.
import { Command, CommanderError } from 'commander';
import { VERSION } from '../lib/version.js';
import { UsageError, EXIT_RUNTIME, EXIT_USAGE } from './errors.js';
import { LogOptionError } from '../lib/log.js';
import { registerDoctor } from './doctor.js';
import { registerAgent } from './agent.js';
import { registerUp } from './up.js';
import { registerConnlat } from './connlat.js';
import { registerTcplife } from './tcplife.js';
import { registerTop } from './top.js';
import { registerExporter } from './exporter.js';
import { registerHub } from './hub.js';
import { registerRules } from './rules.js';

function buildProgram(): Command {
  const program = new Command('flowscope')
    .description('connection-level network observability for hosts, containers and Kubernetes, built on eBPF')
    .version(VERSION, '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ outputError: (str, write) => write(`flowscope: ${str.replace(/^error: /, '')}`) })
    .exitOverride();
  registerUp(program);
  registerAgent(program);
  registerHub(program);
  registerRules(program);
  registerConnlat(program);
  registerTcplife(program);
  registerTop(program);
  registerExporter(program);
  registerDoctor(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode === 0 ? 0 : EXIT_USAGE;
      return;
    }
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`flowscope: ${message}\n`);
    process.exitCode = err instanceof UsageError || err instanceof LogOptionError ? EXIT_USAGE : EXIT_RUNTIME;
  }
}

await main(process.argv);
