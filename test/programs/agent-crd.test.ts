// The agent itself watching BpfProgram resources (through --kubeconfig, against a local server that
// speaks the Kubernetes list/watch protocol): a resource added is loaded and exported with the
// agent's metrics and its status written; deleted, it is unloaded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { startAgent } from '../support/agent.js';
import { waitFor } from '../support/run.js';
import { FakeApiServer, resource, writesSpec } from './fake-api.js';
import { exampleObject, scratch, startWriter } from './support.js';

test('the agent loads a BpfProgram resource, exports its map, reports status, and unloads it on delete', async () => {
  const api = new FakeApiServer();
  await api.start();
  const s = scratch();
  const kubeconfig = join(s.dir, 'kubeconfig');
  writeFileSync(
    kubeconfig,
    [
      'apiVersion: v1',
      'kind: Config',
      `clusters: [{name: local, cluster: {server: "${api.url}"}}]`,
      'users: [{name: agent, user: {token: test-token}}]',
      'contexts: [{name: local, context: {cluster: local, user: agent}}]',
      'current-context: local',
      '',
    ].join('\n'),
  );
  api.event('ADDED', resource('writes', 1, writesSpec('crd_writes_total')));
  const agent = await startAgent(['--kubeconfig', kubeconfig, '--node-name', 'node-a', '--log-level', 'error', '--trusted-object-dir', dirname(exampleObject('writes_by_process'))]);
  const writer = startWriter('fs-crdw', 23);
  try {
    await waitFor(() => api.lastPatch('writes') !== undefined, 10_000, 'a status patch for the resource');
    const conds = api.lastPatch('writes')!.body.status.nodes['node-a']!.conditions;
    assert.equal(conds.find((c) => c.type === 'Loaded')?.status, 'True', JSON.stringify(conds));
    assert.equal(conds.find((c) => c.type === 'Attached')?.status, 'True');
    // The program counts every write(2) of the pid, also any its launcher made before exec: count from here.
    await new Promise((r) => setTimeout(r, 1500));
    const base = (await agent.scrape()).sum('crd_writes_total', { pid: String(writer.pid) });
    writer.go();
    const m = await agent.waitFor((m) => m.sum('crd_writes_total', { pid: String(writer.pid) }) === base + 23, 5000, "the writer's 23 writes in the agent's /metrics").catch(async (err: Error) => {
      const text = await agent.text();
      throw new Error(`${err.message}; writer ${writer.pid}; exported: ${text.split('\n').filter((l) => /crd_writes|program_up/.test(l)).slice(0, 8).join(' | ')}`);
    });
    assert.equal(m.sum('flowscope_program_up', { program: 'crd_writes' }), 1);

    api.event('DELETED', resource('writes', 1, writesSpec('crd_writes_total')));
    await agent.waitFor((m) => m.select('flowscope_program_up', { program: 'crd_writes' }).length === 0, 5000, 'the program unloaded');
    assert.equal((await agent.scrape()).select('crd_writes_total', {}).length, 0);
  } finally {
    await writer.stop();
    await agent.stop();
    await api.stop();
    s.cleanup();
  }
});
