import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfigFile, loadConfigPaths, parseConfigText, type ProgramConfig } from './config.js';
import { CRD_FILE, SCHEMA_FILE, crdText, jsonSchemaText } from './write-schemas.js';
import { repoPath } from '../lib/paths.js';

function problems(text: string, source = 'prog.yaml'): string[] {
  try {
    parseConfigText(text, source, { baseDir: '/opt' });
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems;
  }
  assert.fail('expected a ConfigError');
}

const GOOD = `name: writes
object: writes.bpf.o
metrics:
  counters:
    - name: writes_total
      help: writes
      labels:
        - name: pid
          size: 4
          decoders:
            - name: uint
`;

test('a valid configuration resolves the object next to the YAML and keeps the metrics', () => {
  const [c] = parseConfigText(GOOD, 'prog.yaml', { baseDir: '/opt/progs' }) as [ProgramConfig];
  assert.equal(c.name, 'writes');
  assert.deepEqual(c.object, { path: '/opt/progs/writes.bpf.o' });
  assert.equal(c.format, 'flowscope');
  assert.equal(c.spec.metric_prefix, undefined);
  assert.equal(c.spec.metrics.counters?.[0]?.name, 'writes_total');
});

test('a schema error names the line, column and field', () => {
  const p = problems(GOOD.replace('size: 4', 'size: four'));
  assert.deepEqual(p, ['prog.yaml:9:17: metrics.counters[0].labels[0].size: must be integer']);
});

test('an unknown field is pointed at by its own line', () => {
  const p = problems(GOOD.replace('      help: writes\n', '      help: writes\n      lables: []\n'));
  assert.deepEqual(p, ["prog.yaml:7:7: metrics.counters[0].lables: unknown field 'lables'"]);
});

test('a missing required field points at the object that lacks it', () => {
  const p = problems(GOOD.replace('      help: writes\n', ''));
  assert.deepEqual(p, ["prog.yaml:5:7: metrics.counters[0]: missing required field 'help'"]);
});

test('every problem is reported at once, with enum choices spelled out', () => {
  const p = problems(GOOD.replace('name: uint', 'name: uintt').replace('name: writes_total', 'name: writes-total'));
  assert.equal(p.length, 2, p.join('\n'));
  assert.match(p[0]!, /^prog\.yaml:5:\d+: metrics\.counters\[0\]\.name: must match pattern .*identifier/);
  assert.match(p[1]!, /^prog\.yaml:11:21: metrics\.counters\[0\]\.labels\[0\]\.decoders\[0\]\.name: must be one of "uint", "hex"/);
});

test('YAML syntax errors give the line', () => {
  const p = problems('name: x\nmetrics: [\n  counters:\n');
  assert.match(p[0]!, /^prog\.yaml:\d+:\d+: YAML syntax: /);
});

test('histograms need bucket bounds, static_map needs its table', () => {
  const p = problems(`object: a.bpf.o
name: h
metrics:
  histograms:
    - name: lat
      help: latency
      bucket_type: exp2
      labels:
        - name: op
          size: 4
          decoders: [{ name: static_map }]
        - { name: bucket, size: 4 }
`);
  assert.ok(p.some((x) => /metrics\.histograms\[0\]: missing required field 'bucket_max'/.test(x)), p.join('\n'));
  assert.ok(p.some((x) => /prog\.yaml:11:\d+: metrics\.histograms\[0\]\.labels\[0\]\.decoders\[0\]: static_map decoder needs/.test(x)), p.join('\n'));
});

test('the ELF can be inline as base64 (as in a custom resource)', () => {
  const elf = Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]);
  const [c] = parseConfigText(GOOD.replace('object: writes.bpf.o', `object_base64: ${elf.toString('base64')}`), 'x') as [ProgramConfig];
  assert.deepEqual(c.object, { bytes: elf });
  assert.match(problems(GOOD.replace('object: writes.bpf.o', 'object_base64: "not base64 !!"')).join(), /object_base64: is not base64/);
});

test('several documents in one file are several program sets', () => {
  const two = `${GOOD}---\n${GOOD.replace('name: writes\n', 'name: writes2\n').replace('writes_total', 'writes2_total')}`;
  const cs = parseConfigText(two, 'two.yaml');
  assert.deepEqual(cs.map((c) => [c.name, c.source]), [['writes', 'two.yaml#1'], ['writes2', 'two.yaml#2']]);
});

// An ebpf_exporter v2 configuration: metrics only, the object is <name>.bpf.o beside <name>.yaml,
// map names are metric names, metrics are prefixed ebpf_exporter_.
const EBPF_EXPORTER = `metrics:
  counters:
    - name: syscalls_total
      help: Syscalls by number
      labels:
        - name: syscall
          size: 8
          decoders:
            - name: uint
            - name: syscall
    - name: stacks_total
      help: Kernel stacks
      labels:
        - name: stack
          size: 8
          decoders:
            - name: kstack
    - name: events_total
      help: Events
      perf_event_array: true
      flush_interval: 1m
      labels: []
  histograms:
    - name: bio_latency_seconds
      help: Block IO latency
      bucket_type: exp2
      bucket_min: 0
      bucket_max: 26
      bucket_multiplier: 0.000001
      labels:
        - name: operation
          size: 4
          decoders:
            - name: uint
            - name: static_map
              static_map:
                0: read
                1: write
        - name: bucket
          size: 4
          decoders:
            - name: uint
kaddrs:
  - jiffies
`;

test('ebpf_exporter configurations load as they are, with what is unsupported named', () => {
  const dir = mkdtempSync(join(tmpdir(), 'flowscope-cfg-'));
  try {
    writeFileSync(join(dir, 'syscalls.yaml'), EBPF_EXPORTER);
    writeFileSync(join(dir, 'syscalls.bpf.o'), Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
    const [c] = loadConfigFile(join(dir, 'syscalls.yaml')) as [ProgramConfig];
    assert.equal(c.format, 'ebpf_exporter');
    assert.equal(c.name, 'syscalls');
    assert.deepEqual(c.object, { path: join(dir, 'syscalls.bpf.o') });
    assert.equal(c.spec.metric_prefix, 'ebpf_exporter_');
    assert.deepEqual(c.spec.metrics.counters?.map((m) => m.name), ['syscalls_total']);
    assert.deepEqual(c.spec.metrics.histograms?.map((m) => m.name), ['bio_latency_seconds']);
    assert.equal(c.warnings.length, 3, c.warnings.join('\n'));
    assert.match(c.warnings.join('\n'), /metrics\.counters\[1\] \(stacks_total\): decoder stack:kstack is not supported by flowscope; metric left out/);
    assert.match(c.warnings.join('\n'), /metrics\.counters\[2\] \(events_total\): perf_event_array counters are not supported/);
    assert.match(c.warnings.join('\n'), /syscalls\.yaml:\d+:\d+: kaddrs: not supported/);
    // Without the object beside it, the message says what to add.
    rmSync(join(dir, 'syscalls.bpf.o'));
    assert.throws(() => loadConfigFile(join(dir, 'syscalls.yaml')), (e: unknown) => e instanceof ConfigError && /syscalls\.bpf\.o does not exist \(ebpf_exporter layout\): add object:/.test(e.message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('ebpf_exporter v1 (BCC code in YAML) is refused with what to do instead', () => {
  const p = problems('programs:\n  - name: timers\n    metrics: {}\n    code: "int x;"\n');
  assert.match(p[0]!, /^prog\.yaml:2:\d+: programs: this is an ebpf_exporter v1 \(BCC\) configuration.*compile the program/);
});

test('metric names must be unique in a program set, and set names across files', () => {
  const dup = GOOD.replace('metrics:\n  counters:\n', 'metrics:\n  gauges:\n    - { name: writes_total, help: x }\n  counters:\n');
  assert.ok(problems(dup).some((x) => /metric 'writes_total' is defined twice/.test(x)));
  const dir = mkdtempSync(join(tmpdir(), 'flowscope-cfg-'));
  try {
    writeFileSync(join(dir, 'a.yaml'), GOOD);
    writeFileSync(join(dir, 'b.yaml'), GOOD);
    writeFileSync(join(dir, 'c.yaml'), 'metrics: {');
    const { configs, errors } = loadConfigPaths([dir, join(dir, 'missing.yaml')]);
    assert.equal(configs.length, 1);
    assert.equal(errors.length, 3);
    assert.match(errors.map((e) => e.message).join('\n'), /program set 'writes' is also defined in .*a\.yaml/);
    assert.match(errors.map((e) => e.message).join('\n'), /missing\.yaml: invalid program configuration:\n  no such file/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('every example configuration in examples/programs validates', () => {
  const { configs, errors } = loadConfigPaths([repoPath('examples/programs')]);
  assert.deepEqual(errors.map((e) => e.message), []);
  assert.ok(configs.length >= 5);
  for (const c of configs) assert.equal(c.warnings.length, 0, c.name);
});

test('deploy/ holds the schema and CRD written from src/programs/schema.ts', () => {
  const hint = 'run `node dist/src/programs/write-schemas.js` after changing src/programs/schema.ts';
  assert.equal(readFileSync(repoPath(SCHEMA_FILE), 'utf8'), jsonSchemaText(), hint);
  assert.equal(readFileSync(repoPath(CRD_FILE), 'utf8'), crdText(), hint);
});
