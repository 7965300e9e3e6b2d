// Bad programs and configurations each give a clear error naming what is wrong, and never stop the
// good program next to them: in `exporter --check` (exit 1, every result reported) and in a running
// exporter (the good one keeps counting, the bad ones are reported in /capabilities and self-metrics).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { testObject, flowscopeBin } from '../support/paths.js';
import { loadedPrograms } from '../support/bpftool.js';
import { runCommand } from '../support/run.js';
import { exampleObject, scratch, startExporter, startWriter } from './support.js';

function counter(name: string, map: string, size = 4): string {
  return `metrics:
  counters:
    - name: ${name}
      help: test counter
      map: ${map}
      labels:
        - name: key
          size: ${size}
          decoders:
            - name: uint
`;
}

/** Writes the good configuration and one of each kind of bad one; returns their files by name. */
function writeConfigs(dir: string): Record<string, string> {
  const writes = exampleObject('writes_by_process');
  const files: Record<string, string> = {
    good: `name: good\nobject: ${writes}\n${counter('good_writes_total', 'write_calls')}`,
    not_elf: `name: not_elf\nobject: ${join(dir, 'garbage.bpf.o')}\n${counter('garbage_total', 'x')}`,
    rejected: `name: rejected\nobject: ${testObject('rejected')}\n${counter('rejected_total', 'values')}`,
    missing_map: `name: missing_map\nobject: ${writes}\n${counter('missing_total', 'no_such_map')}`,
    key_size: `name: key_size\nobject: ${writes}\n${counter('key_size_total', 'write_calls', 8)}`,
    schema: `name: schema\nobject: ${writes}\n${counter('schema_total', 'write_calls').replace('size: 4', 'size: four')}`,
    no_attach_point: `name: no_attach_point\nobject: ${writes}\nprograms:\n  - name: count_writes\n    attach:\n      tracepoint: flowscope_nonexistent/no_such_event\n${counter('no_attach_total', 'write_calls')}`,
  };
  writeFileSync(join(dir, 'garbage.bpf.o'), 'this is a text file, not a compiled eBPF object\n');
  const out: Record<string, string> = {};
  for (const [name, text] of Object.entries(files)) {
    out[name] = join(dir, `${name}.yaml`);
    writeFileSync(out[name]!, text);
  }
  return out;
}

const EXPECTED: Record<string, RegExp> = {
  not_elf: /FAIL {2}not_elf .*: open: object .*garbage\.bpf\.o is not an ELF file \(expected a \.bpf\.o compiled with clang -target bpf\)/,
  rejected: /FAIL {2}rejected .*: load: .*the verifier rejected program 'unchecked_lookup': .*invalid mem access 'map_value_or_null'/,
  missing_map: /FAIL {2}missing_map .*: metrics: metric missing_total: the object has no map 'no_such_map' \(it has: write_calls\)/,
  key_size: /FAIL {2}key_size .*: metrics: metric key_size_total: the key of map 'write_calls' is 4 bytes but the labels cover 8 bytes/,
  schema: /FAIL {2}.*schema\.yaml: configuration:\n.*schema\.yaml:10:\d+: metrics\.counters\[0\]\.labels\[0\]\.size: must be integer/,
  no_attach_point: /FAIL {2}no_attach_point .*: attach: program count_writes .* did not attach: .*flowscope_nonexistent[:/]no_such_event/,
};

test('exporter --check reports every bad program with its reason, the good one as ok, and exits 1', async () => {
  const s = scratch();
  try {
    const files = writeConfigs(s.dir);
    const r = await runCommand(flowscopeBin, ['exporter', '--check', '--config', ...Object.values(files)]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /^ok {4}good .*: loaded; metrics: good_writes_total\n {6}attached count_writes \(SEC "tracepoint\/syscalls\/sys_enter_write"\) → tracepoint\/syscalls\/sys_enter_write$/m);
    for (const [name, re] of Object.entries(EXPECTED)) assert.match(r.stdout, re, `${name}:\n${r.stdout}`);
    assert.match(r.stdout, /this kernel has no such tracepoint/, 'the attach failure says what to check');
    assert.match(r.stdout, /^FAIL: 6 program set\(s\), 1 configuration error\(s\)$/m);

    const good = await runCommand(flowscopeBin, ['exporter', '--check', '--config', files.good!]);
    assert.equal(good.code, 0, good.stdout + good.stderr);
    assert.match(good.stdout, /^ok: 1 program set\(s\), 0 configuration error\(s\)$/m);
  } finally {
    s.cleanup();
  }
});

test('a running exporter keeps the good program counting next to bad ones, and reports each failure', async () => {
  const s = scratch();
  const files = writeConfigs(s.dir);
  const name = `fsbad${randomBytes(3).toString('hex')}`;
  const writer = startWriter(name, 23);
  const exporter = await startExporter(Object.values(files));
  try {
    writer.go();
    const m = await exporter.waitFor((m) => m.sum('good_writes_total', { key: String(writer.pid) }) >= 23, 10_000, 'the good program\'s count');
    assert.equal(m.sum('good_writes_total', { key: String(writer.pid) }), 23);
    for (const bad of ['not_elf', 'rejected', 'missing_map', 'key_size', 'no_attach_point']) {
      assert.equal(m.sum('flowscope_program_up', { program: bad }), 0, bad);
      assert.equal(m.select('flowscope_program_start_failures_total', { program: bad }).length, 1, bad);
    }
    assert.equal(m.sum('flowscope_program_up', { program: 'good' }), 1);

    type Caps = { programs: Array<{ name: string; error?: { stage: string; message: string; reason?: string } }>; configurationErrors: Array<{ source: string; problems: string[] }> };
    const caps = await exporter.json<Caps>('/capabilities');
    const byName = new Map(caps.programs.map((p) => [p.name, p]));
    assert.equal(byName.get('good')?.error, undefined);
    assert.equal(byName.get('rejected')?.error?.stage, 'load');
    assert.match(byName.get('rejected')?.error?.reason ?? '', /invalid mem access 'map_value_or_null'/);
    assert.equal(byName.get('not_elf')?.error?.stage, 'open');
    assert.equal(byName.get('missing_map')?.error?.stage, 'metrics');
    assert.equal(byName.get('key_size')?.error?.stage, 'metrics');
    assert.equal(byName.get('no_attach_point')?.error?.stage, 'attach');
    assert.match(caps.configurationErrors[0]?.problems.join() ?? '', /size: must be integer/);

    // Nothing of the failed program sets stays in the kernel: one count_writes (the good one).
    assert.equal(loadedPrograms().filter((p) => p.name === 'count_writes').length, 1);
    assert.equal(loadedPrograms().filter((p) => p.name === 'unchecked_lookup').length, 0);
  } finally {
    await writer.stop();
    await exporter.stop();
    s.cleanup();
  }
  assert.equal(loadedPrograms().filter((p) => p.name === 'count_writes').length, 0, 'the exporter unloads its programs when it stops');
});
