// Custom programs are a trust boundary: a BpfProgram resource loads its object only from a directory
// the node allows, or pinned by its sha256, and inline objects only when enabled. A refused resource
// gets conditions that say why, and nothing of it reaches the kernel (bpftool is the witness).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { ProgramRegistry } from '../../src/programs/registry.js';
import { BpfProgramWatcher, setName, type Condition } from '../../src/programs/watch.js';
import { systemDecoderEnv } from '../../src/programs/exporter.js';
import { loadConfigPaths } from '../../src/programs/config.js';
import { loadedPrograms } from '../support/bpftool.js';
import { waitFor } from '../support/run.js';
import { FakeApiServer, resource } from './fake-api.js';
import { exampleObject, scratch } from './support.js';

const OBJECT = exampleObject('writes_by_process');
const SHA = createHash('sha256').update(readFileSync(OBJECT)).digest('hex');
const spec = (metric: string, extra: Record<string, unknown>): Record<string, unknown> => ({
  metrics: { counters: [{ name: metric, help: 'writes', map: 'write_calls', labels: [{ name: 'pid', size: 4, decoders: [{ name: 'uint' }] }] }] },
  ...extra,
});

let s: ReturnType<typeof scratch>;
let allowed: string;
let outside: string;
before(() => {
  s = scratch();
  allowed = join(s.dir, 'allowed');
  outside = join(s.dir, 'elsewhere');
  mkdirSync(allowed);
  mkdirSync(outside);
  copyFileSync(OBJECT, join(allowed, 'writes.bpf.o'));
  copyFileSync(OBJECT, join(outside, 'writes.bpf.o'));
  // A link inside the allowed directory to an object outside it.
  symlinkSync(join(outside, 'writes.bpf.o'), join(allowed, 'escape.bpf.o'));
});
after(() => s.cleanup());

const cond = (api: FakeApiServer, name: string, type: string): Condition | undefined => api.lastPatch(name)?.body.status.nodes['node-a']?.conditions.find((c) => c.type === type);

async function withWatcher(trust: { allowedDirs: string[]; allowInline: boolean }, body: (api: FakeApiServer, registry: ProgramRegistry) => Promise<void>): Promise<void> {
  const api = new FakeApiServer();
  await api.start();
  const registry = new ProgramRegistry(systemDecoderEnv());
  const watcher = new BpfProgramWatcher({ connection: { server: api.url, token: 'test-token' }, node: 'node-a', registry, log: pino({ level: 'silent' }), retryMs: 100, trust });
  watcher.start();
  try {
    await waitFor(() => api.watching === 1, 5000, 'the watch');
    await body(api, registry);
  } finally {
    await watcher.stop();
    registry.close();
    await api.stop();
  }
}

const countWrites = (): number => loadedPrograms().filter((p) => p.name === 'count_writes').length;

test('refused with a reason, nothing loaded: outside the allowed directory, a link out of it, a wrong sha256, object_base64 while off', async () => {
  await withWatcher({ allowedDirs: [allowed], allowInline: false }, async (api, registry) => {
    const before = countWrites();
    const cases: Array<[string, Record<string, unknown>, string, RegExp]> = [
      ['outside', { object: join(outside, 'writes.bpf.o') }, 'OutsideAllowedDirectories', /is outside the allowed directories .*pin it with sha256/],
      ['escape', { object: join(allowed, 'escape.bpf.o') }, 'OutsideAllowedDirectories', /escape\.bpf\.o \(.*elsewhere\/writes\.bpf\.o\) is outside/],
      ['dotdot', { object: join(allowed, '..', 'elsewhere', 'writes.bpf.o') }, 'OutsideAllowedDirectories', /is outside the allowed directories/],
      ['wrong-sha', { object: join(allowed, 'writes.bpf.o'), sha256: '0'.repeat(64) }, 'Sha256Mismatch', new RegExp(`has SHA-256 ${SHA}, the spec pins 0{64}`)],
      ['inline', { object_base64: readFileSync(OBJECT).toString('base64') }, 'InlineObjectDisabled', /object_base64 is off on this node/],
    ];
    for (const [name, extra] of cases) api.event('ADDED', resource(name, 1, spec(`${name.replace('-', '_')}_total`, extra)));
    for (const [name, , reason, message] of cases) {
      await waitFor(() => api.lastPatch(name), 10_000, `the status of ${name}`);
      assert.equal(cond(api, name, 'Loaded')?.status, 'False', name);
      assert.equal(cond(api, name, 'Loaded')?.reason, reason, name);
      assert.equal(cond(api, name, 'Error')?.status, 'True', name);
      assert.equal(cond(api, name, 'Error')?.reason, reason, name);
      assert.match(cond(api, name, 'Error')?.message ?? '', message, name);
      assert.equal(registry.get(setName(name)), undefined, `${name}: no program set`);
    }
    assert.equal(countWrites(), before, 'no program of a refused resource is in the kernel');
    assert.ok(!registry.render().includes('_total{'), 'no metric of a refused resource');
  });
});

test('loaded: a file in the allowed directory; a pinned file anywhere; object_base64 when enabled; a loaded resource changed to an untrusted object is unloaded', async () => {
  await withWatcher({ allowedDirs: [allowed], allowInline: true }, async (api, registry) => {
    const before = countWrites();
    api.event('ADDED', resource('inside', 1, spec('inside_total', { object: join(allowed, 'writes.bpf.o') })));
    api.event('ADDED', resource('pinned', 1, spec('pinned_total', { object: join(outside, 'writes.bpf.o'), sha256: SHA })));
    api.event('ADDED', resource('inline', 1, spec('inline_total', { object_base64: readFileSync(OBJECT).toString('base64'), sha256: SHA })));
    for (const name of ['inside', 'pinned', 'inline']) {
      await waitFor(() => registry.get(setName(name))?.ok, 10_000, `${name} loaded`);
      // The status is patched after the load: wait for the patch, then read it.
      await waitFor(() => cond(api, name, 'Loaded'), 10_000, `the status of ${name}`);
      assert.equal(cond(api, name, 'Loaded')?.status, 'True', name);
    }
    assert.equal(countWrites(), before + 3);
    // The pinned object is swapped on disk after loading; the next generation reads it again and refuses it.
    writeFileSync(join(outside, 'writes.bpf.o'), Buffer.concat([readFileSync(OBJECT), Buffer.from('tampered')]));
    api.event('MODIFIED', resource('pinned', 2, spec('pinned_total', { object: join(outside, 'writes.bpf.o'), sha256: SHA })));
    await waitFor(() => api.lastPatch('pinned')?.body.status.observedGeneration === 2, 10_000, 'the second generation');
    assert.equal(cond(api, 'pinned', 'Loaded')?.reason, 'Sha256Mismatch');
    assert.equal(registry.get(setName('pinned')), undefined, 'the first generation is unloaded too');
    assert.equal(countWrites(), before + 2);
    copyFileSync(OBJECT, join(outside, 'writes.bpf.o'));
  });
});

test('files named on the command line: a wrong sha256 pin is a configuration error, the rest of the file loads', () => {
  const file = join(s.dir, 'pinned.yaml');
  writeFileSync(
    file,
    [
      `name: good\nobject: ${OBJECT}\nsha256: ${SHA}\nmetrics:\n  counters: [{name: good_total, help: x, map: write_calls, labels: [{name: pid, size: 4}]}]`,
      `name: bad\nobject: ${OBJECT}\nsha256: ${'f'.repeat(64)}\nmetrics:\n  counters: [{name: bad_total, help: x, map: write_calls, labels: [{name: pid, size: 4}]}]`,
    ].join('\n---\n'),
  );
  const { configs, errors } = loadConfigPaths([file]);
  assert.deepEqual(configs.map((c) => c.name), ['good']);
  assert.ok('bytes' in configs[0]!.object, 'a pinned object is loaded from the bytes that were checked');
  assert.equal(errors.length, 1);
  assert.match(errors[0]!.problems[0]!, new RegExp(`sha256: object .* has SHA-256 ${SHA}, the spec pins f{64}`));
});
