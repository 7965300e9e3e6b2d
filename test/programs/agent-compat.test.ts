// Custom programs inside the agent (--programs), and ebpf_exporter configurations loaded as they are.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startAgent } from '../support/agent.js';
import { flowscopeBin } from '../support/paths.js';
import { runCommand } from '../support/run.js';
import { exampleConfig, exampleObject, scratch, startExporter, startWriter } from './support.js';

test('agent --programs DIR exports custom programs next to its TCP metrics', async () => {
  const s = scratch();
  const dir = join(s.dir, 'programs');
  mkdirSync(dir);
  exampleConfig(dir, 'writes_by_process');
  const name = `fsag${randomBytes(3).toString('hex')}`;
  const writer = startWriter(name, 19);
  const agent = await startAgent(['--programs', dir]);
  try {
    writer.go();
    const m = await agent.waitFor((m) => m.sum('write_syscalls_total', { comm: name }) >= 19, 10_000, 'the writer\'s writes in the agent');
    assert.equal(m.sum('write_syscalls_total', { comm: name, pid: String(writer.pid) }), 19);
    assert.equal(m.sum('flowscope_program_up', { program: 'writes_by_process' }), 1);
    assert.ok(m.select('flowscope_agent_edges').length === 1, 'the agent\'s own metrics are there too');
    const caps = await agent.json<{ programs?: Array<{ name: string }> }>('/capabilities');
    assert.deepEqual(caps.programs?.map((p) => p.name), ['writes_by_process']);
  } finally {
    await writer.stop();
    await agent.stop();
    s.cleanup();
  }
});

// An ebpf_exporter v2 layout: <name>.yaml with only a metrics section beside <name>.bpf.o, metric
// names equal to map names. A second counter uses a decoder flowscope lacks: left out, with a warning.
const EBPF_EXPORTER_CONFIG = `metrics:
  counters:
    - name: write_calls
      help: write(2) calls per process
      labels:
        - name: pid
          size: 4
          decoders:
            - name: uint
    - name: stack_samples
      help: Stacks
      labels:
        - name: stack
          size: 8
          decoders:
            - name: kstack
`;

test('an ebpf_exporter configuration loads as it is, metrics prefixed ebpf_exporter_, unsupported parts named', async () => {
  const s = scratch();
  const yaml = join(s.dir, 'write_calls.yaml');
  writeFileSync(yaml, EBPF_EXPORTER_CONFIG);
  copyFileSync(exampleObject('writes_by_process'), join(s.dir, 'write_calls.bpf.o'));
  const check = await runCommand(flowscopeBin, ['exporter', '--check', '--config', yaml]);
  assert.equal(check.code, 0, check.stdout + check.stderr);
  assert.match(check.stdout, /^ok {4}write_calls .*: loaded; metrics: ebpf_exporter_write_calls$/m);
  assert.match(check.stdout, /warning: .*write_calls\.yaml:\d+:\d+: metrics\.counters\[1\] \(stack_samples\): decoder stack:kstack is not supported by flowscope; metric left out/);

  const name = `fsee${randomBytes(3).toString('hex')}`;
  const writer = startWriter(name, 11);
  const exporter = await startExporter([yaml]);
  try {
    writer.go();
    const m = await exporter.waitFor((m) => m.sum('ebpf_exporter_write_calls', { pid: String(writer.pid) }) >= 11, 10_000, 'the writer\'s writes');
    assert.equal(m.sum('ebpf_exporter_write_calls', { pid: String(writer.pid) }), 11);
  } finally {
    await writer.stop();
    await exporter.stop();
    s.cleanup();
  }
});
