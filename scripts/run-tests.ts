// Runs the test suite (compiled to dist/) with Node's test runner, one file at a time (kernel tests
// share global state such as TCP counters), and prints pass/fail/skip counts.
//
//   node dist/scripts/run-tests.js [--strict-skips] [filter...]
//
// --strict-skips (or FLOWSCOPE_STRICT_SKIPS=1): a skipped test fails the run. Tests skip only when a
// feature is truly absent, and say why; on the machines CI uses every feature is present.
import { run } from 'node:test';
import { spec } from 'node:test/reporters';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { repoPath } from '../src/lib/paths.js';

function findTests(dir: string): string[] {
  let out: string[] = [];
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries.sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out = out.concat(findTests(path));
    else if (name.endsWith('.test.js')) out.push(path);
  }
  return out;
}

const args = process.argv.slice(2);
const strict = args.includes('--strict-skips') || process.env.FLOWSCOPE_STRICT_SKIPS === '1';
const filters = args.filter((a) => !a.startsWith('--'));
// Pure logic first (fast feedback), then the kernel, network, container and browser tests.
const all = [...findTests(repoPath('dist/src')), ...findTests(repoPath('dist/scripts')), ...findTests(repoPath('dist/test'))];
const files = filters.length ? all.filter((f) => filters.some((x) => f.includes(x))) : all;
if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ')}`);
  process.exit(2);
}

interface Outcome {
  name: string;
  file: string;
  reason?: string;
}
const passed: Outcome[] = [];
const failed: Outcome[] = [];
const skipped: Outcome[] = [];
const started = Date.now();

const stream = run({ files, concurrency: 1, timeout: 5 * 60_000 });
type TestEvent = { name: string; file?: string; skip?: string | boolean; details?: { type?: string; error?: unknown } };
const rel = (f?: string): string => (f ? relative(repoPath('dist'), f) : '?');
stream.on('test:pass', (d: TestEvent) => {
  if (d.details?.type === 'suite') return;
  if (d.skip !== undefined && d.skip !== false) skipped.push({ name: d.name, file: rel(d.file), reason: typeof d.skip === 'string' ? d.skip : '' });
  else passed.push({ name: d.name, file: rel(d.file) });
});
stream.on('test:fail', (d: TestEvent) => {
  if (d.details?.type === 'suite') return;
  failed.push({ name: d.name, file: rel(d.file) });
});
stream.compose(new spec()).pipe(process.stdout);

await new Promise<void>((resolve) => stream.on('close', () => resolve()));
// Let the spec reporter finish writing.
await new Promise((r) => setTimeout(r, 100));

const secs = ((Date.now() - started) / 1000).toFixed(1);
console.log(`\nflowscope tests: ${passed.length} passed, ${failed.length} failed, ${skipped.length} skipped (${files.length} files, ${secs} s)`);
for (const s of skipped) console.log(`  skipped: ${s.file} › ${s.name}${s.reason ? `: ${s.reason}` : ''}`);
for (const f of failed) console.log(`  FAILED:  ${f.file} › ${f.name}`);
if (strict && skipped.length) console.log('strict skips: a test that can run on this machine must not skip; the run fails');
process.exitCode = failed.length > 0 || (strict && skipped.length > 0) ? 1 : 0;
