// The BpfProgram watcher against a local server that speaks the Kubernetes list/watch protocol with
// real object shapes (no API server can run here): load on ADDED, reload on a new generation, unload
// on DELETED, relist after 410 Gone, status conditions written through the status subresource.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import pino from 'pino';
import { ProgramRegistry } from '../../src/programs/registry.js';
import { BpfProgramWatcher, setName, type Condition } from '../../src/programs/watch.js';
import { systemDecoderEnv } from '../../src/programs/exporter.js';
import { loadedPrograms } from '../support/bpftool.js';
import { testObject } from '../support/paths.js';
import { repoPath } from '../../src/lib/paths.js';
import { waitFor } from '../support/run.js';
import { FakeApiServer, resource, writesSpec } from './fake-api.js';

const cond = (p: FakeApiServer['patches'][number] | undefined, type: string): Condition | undefined => p?.body.status.conditions.find((c) => c.type === type);

test('BpfProgram resources are loaded, reloaded, unloaded, and report status conditions', async () => {
  const api = new FakeApiServer();
  await api.start();
  api.event('ADDED', resource('writes', 1, writesSpec('crd_writes_total')));
  const registry = new ProgramRegistry(systemDecoderEnv());
  // The examples' objects are in a directory this node trusts; the rejected one comes inline.
  const trust = { allowedDirs: [repoPath('bpf/.output/examples')], allowInline: true };
  const watcher = new BpfProgramWatcher({ connection: { server: api.url, token: 'test-token' }, node: 'node-a', registry, log: pino({ level: 'silent' }), retryMs: 100, trust });
  watcher.start();
  try {
    // Listed at start: loaded and attached, conditions written for this node.
    await waitFor(() => api.lastPatch('writes'), 10_000, 'the first status');
    let p = api.lastPatch('writes')!;
    assert.equal(p.contentType, 'application/merge-patch+json');
    assert.equal(cond(p, 'Loaded')?.status, 'True');
    assert.equal(cond(p, 'Attached')?.status, 'True');
    assert.match(cond(p, 'Attached')?.message ?? '', /count_writes → tracepoint\/syscalls\/sys_enter_write/);
    assert.equal(cond(p, 'Error')?.status, 'False');
    assert.equal(p.body.status.observedGeneration, 1);
    assert.deepEqual(p.body.status.nodes['node-a']?.conditions.map((c) => c.type), ['Loaded', 'Attached', 'Error']);
    assert.deepEqual(registry.get(setName('writes'))?.status.metrics, ['crd_writes_total']);
    await waitFor(() => api.watching === 1, 5000, 'the watch');

    // A new generation reloads with the new spec.
    api.event('MODIFIED', resource('writes', 2, writesSpec('crd_writes_v2_total')));
    await waitFor(() => api.lastPatch('writes')?.body.status.observedGeneration === 2, 10_000, 'the reload');
    assert.deepEqual(registry.get(setName('writes'))?.status.metrics, ['crd_writes_v2_total']);
    const fd = openSync('/dev/null', 'w');
    for (let i = 0; i < 5; i++) writeSync(fd, 'x');
    closeSync(fd);
    const counted = new RegExp(`crd_writes_v2_total\\{pid="${process.pid}"\\} (\\d+)`).exec(registry.render());
    assert.ok(counted && Number(counted[1]) >= 5, 'the reloaded program counts this process\'s writes');
    assert.equal(loadedPrograms().filter((x) => x.name === 'count_writes').length, 1, 'the old version is unloaded');

    // A status-only update (same generation) changes nothing.
    api.event('MODIFIED', resource('writes', 2, writesSpec('crd_writes_v2_total')));
    // An ELF inline as base64 (as kube-bpf's resource carried it) that the verifier rejects.
    api.event('ADDED', resource('broken', 1, {
      object_base64: readFileSync(testObject('rejected')).toString('base64'),
      metrics: { counters: [{ name: 'broken_total', help: 'x', map: 'values', labels: [{ name: 'k', size: 4 }] }] },
    }));
    await waitFor(() => api.lastPatch('broken'), 10_000, 'the status of the broken program');
    p = api.lastPatch('broken')!;
    assert.equal(cond(p, 'Loaded')?.status, 'False');
    assert.equal(cond(p, 'Error')?.status, 'True');
    assert.equal(cond(p, 'Error')?.reason, 'VerifierRejected');
    assert.match(cond(p, 'Error')?.message ?? '', /invalid mem access 'map_value_or_null'/);
    assert.equal(api.patches.filter((x) => x.name === 'writes').length, 2, 'one status per generation');

    // A spec that does not validate: Error with the field.
    api.event('ADDED', resource('invalid', 1, { object: '/x.bpf.o', metrics: { counters: [{ name: 'x_total' }] } }));
    await waitFor(() => api.lastPatch('invalid'), 10_000, 'the status of the invalid spec');
    assert.equal(cond(api.lastPatch('invalid'), 'Error')?.reason, 'SpecInvalid');
    assert.match(cond(api.lastPatch('invalid'), 'Error')?.message ?? '', /metrics\.counters\[0\]: missing required field 'help'/);

    // The watch expires (410 Gone): the watcher lists again, and finds 'writes' deleted meanwhile.
    const lists = api.lists;
    api.objects.delete('writes');
    api.expire();
    await waitFor(() => api.lists > lists && registry.get(setName('writes')) === undefined, 10_000, 'the relist');
    assert.equal(loadedPrograms().filter((x) => x.name === 'count_writes').length, 0, 'deleted resource unloaded');

    // DELETED through the watch unloads too.
    await waitFor(() => api.watching === 1, 5000, 'the new watch');
    api.event('ADDED', resource('writes2', 1, writesSpec('crd_writes2_total')));
    await waitFor(() => registry.get(setName('writes2'))?.ok, 10_000, 'writes2 loaded');
    api.event('DELETED', resource('writes2', 1, writesSpec('crd_writes2_total')));
    await waitFor(() => registry.get(setName('writes2')) === undefined, 10_000, 'writes2 unloaded');
  } finally {
    await watcher.stop();
    registry.close();
    await api.stop();
  }
});
