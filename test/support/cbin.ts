// Small C programs compiled by tests (load generators, uprobe targets).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sh } from './run.js';

/** Compiles C source to an executable in a fresh temporary directory; returns its path. */
export function compileC(name: string, source: string, flags: string[] = []): string {
  const dir = mkdtempSync(join(tmpdir(), 'flowscope-c-'));
  const src = join(dir, `${name}.c`);
  const bin = join(dir, name);
  writeFileSync(src, source);
  sh('gcc', ['-O1', '-g', '-o', bin, src, ...flags]);
  return bin;
}
