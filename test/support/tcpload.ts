// The C load generator (test/fixtures/tcpload.c), compiled under the process names tests assert on.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { repoPath } from '../../src/lib/paths.js';
import { compileC } from './cbin.js';
import { runCommand, type Result } from './run.js';

const cache = new Map<string, string>();

/** The load generator built as an executable named `name` (its process name, max 15 characters). */
export function tcpload(name: string): string {
  let bin = cache.get(name);
  if (!bin) {
    bin = compileC(name, readFileSync(repoPath('test/fixtures/tcpload.c'), 'utf8'), ['-pthread']);
    cache.set(name, bin);
  }
  return bin;
}

export interface Server {
  proc: ChildProcess;
  /** Stops the server; resolves with what it counted. */
  stop(): Promise<{ connections: number; bytes_received: number }>;
}

/** Starts `tcpload server`, optionally inside a network namespace; resolves once it listens. */
export async function startServer(bin: string, addr: string, port: number, opts: { netns?: string; threads?: number } = {}): Promise<Server> {
  const args = ['server', addr, String(port), String(opts.threads ?? 1)];
  const proc = opts.netns ? spawn('ip', ['netns', 'exec', opts.netns, bin, ...args]) : spawn(bin, args);
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  await new Promise<void>((resolve, reject) => {
    proc.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('ready')) resolve();
    });
    proc.on('close', (code) => reject(new Error(`server exited (${code}): ${err}`)));
  });
  return {
    proc,
    stop: async () => {
      const closed = new Promise((r) => proc.on('close', r));
      proc.kill('SIGTERM');
      await closed;
      return JSON.parse(out.trim().split('\n').pop() ?? '{}') as { connections: number; bytes_received: number };
    },
  };
}

export async function runClient(bin: string, args: string[], netns?: string): Promise<Result> {
  return netns ? runCommand('ip', ['netns', 'exec', netns, bin, ...args], { timeoutMs: 300_000 }) : runCommand(bin, args, { timeoutMs: 300_000 });
}
