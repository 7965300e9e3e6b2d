// Helpers for the custom-program tests: example configurations rewritten for a test (absolute object
// paths, the test's own interface names), a writer process with a known name, the exporter itself.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoPath } from '../../src/lib/paths.js';
import { compileC } from '../support/cbin.js';
import { startAgent, type RunningAgent } from '../support/agent.js';

export const exampleObject = (name: string): string => repoPath('bpf/.output/examples', `${name}.bpf.o`);

/** A scratch directory removed by `cleanup()`. */
export function scratch(): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'flowscope-prog-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Copies an example's YAML into `dir`, pointing at the built object and applying text replacements. */
export function exampleConfig(dir: string, name: string, replace: Array<[string | RegExp, string]> = []): string {
  let text = readFileSync(repoPath('examples/programs', `${name}.yaml`), 'utf8');
  text = text.replace(/^object: .*$/m, `object: ${exampleObject(name)}`);
  for (const [from, to] of replace) text = text.replace(from, to);
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, text);
  return file;
}

export function startExporter(configs: string[], extra: string[] = []): Promise<RunningAgent> {
  return startAgent(['--config', ...configs, ...extra], 'exporter');
}

const WRITER = `
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
/* Waits for a line on stdin, makes N write(2) calls to /dev/null, then waits for stdin to close. */
int main(int argc, char **argv) {
  int n = atoi(argv[1]);
  int fd = open("/dev/null", O_WRONLY);
  char buf[64];
  if (read(0, buf, sizeof buf) <= 0) return 1;
  for (int i = 0; i < n; i++) if (write(fd, "x", 1) != 1) return 2;
  while (read(0, buf, sizeof buf) > 0) {}
  return 0;
}
`;

let writerBin = new Map<string, string>();

export interface Writer {
  proc: ChildProcess;
  pid: number;
  /** Makes the N writes. */
  go(): void;
  stop(): Promise<void>;
}

/** A process named `name` (its comm) that makes exactly `n` write(2) calls when told to. */
export function startWriter(name: string, n: number): Writer {
  let bin = writerBin.get(name);
  if (!bin) {
    bin = compileC(name, WRITER);
    writerBin.set(name, bin);
  }
  const proc = spawn(bin, [String(n)], { stdio: ['pipe', 'ignore', 'inherit'] });
  const closed = new Promise<void>((r) => proc.on('close', () => r()));
  return {
    proc,
    pid: proc.pid!,
    go: () => proc.stdin!.write('go\n'),
    stop: async () => {
      proc.stdin!.end();
      const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await closed;
      clearTimeout(t);
    },
  };
}

export function resetWriters(): void {
  writerBin = new Map();
}
