// A process that receives signals all the time (here a CPU profiler's SIGPROF every 50 µs) still
// loads large programs: the verifier gives up with EAGAIN whenever a signal is pending, so the load
// must keep signals blocked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoPath } from '../../src/lib/paths.js';

test('a large program loads while the process is profiled (SIGPROF every 50 µs)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fs-prof-'));
  try {
    const facade = repoPath('dist/src/bpf/index.js');
    const object = repoPath('bpf/.output/tcp.bpf.o');
    const script = `
      const { BpfObject } = await import(${JSON.stringify(facade)});
      const started = Date.now();
      const obj = BpfObject.load(${JSON.stringify(object)}, { programs: ['tcp_state_btf'] });
      console.log(JSON.stringify({ ok: true, ms: Date.now() - started }));
      obj.close();`;
    const r = spawnSync(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${dir}`, '--cpu-prof-interval=50', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, `the load failed under the profiler: ${r.stderr.slice(0, 800)}`);
    const out = JSON.parse(r.stdout.trim()) as { ok: boolean; ms: number };
    console.log(`# loaded in ${out.ms} ms under SIGPROF`);
    assert.equal(out.ok, true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
