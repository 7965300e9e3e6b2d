// An agent on a Kubernetes node without --zone: the hub learns the node's zone from its
// topology.kubernetes.io/zone label, read from the API server (the recorded-shape mock of
// test/identity); --zone, when given, wins; a node the API does not know gets none, with a warning.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { flowscopeBin } from '../support/paths.js';
import { freePort } from '../support/agent.js';
import { waitFor } from '../support/run.js';
import { FakeApiServer, node } from '../identity/fake-apiserver.js';
import { startTestHub, type TestHub } from './support.js';

let api: FakeApiServer;
let hub: TestHub;
let dir: string;
let kubeconfig: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fs-hub-zone-'));
  api = new FakeApiServer();
  await api.start();
  api.add('nodes', node('zone-node-a', '10.77.0.1', 'eu-west-1b'));
  api.add('nodes', node('zone-node-b', '10.77.0.2', 'eu-west-1c'));
  kubeconfig = join(dir, 'kubeconfig');
  api.kubeconfig(kubeconfig);
  hub = await startTestHub();
});

after(async () => {
  await hub?.destroy();
  await api?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Runs an agent reporting to the hub until the hub knows its run; the zone the hub recorded, and its output. */
async function zoneAtHub(nodeName: string, extra: string[] = []): Promise<{ zone: string; output: string }> {
  const proc = spawn(flowscopeBin, ['agent', '--hub', hub.url, '--kubeconfig', kubeconfig, '--node-name', nodeName, '--no-flows', '--listen', `127.0.0.1:${await freePort()}`, '--log-level', 'info', ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  proc.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((r) => proc.once('close', () => r()));
  try {
    const run = await waitFor(
      async () => {
        if (proc.exitCode !== null) throw new Error(`the agent exited: ${output}`);
        const agents = (await hub.get('/api/v1/status')).body.agents as Array<{ node: string; zone: string }>;
        return agents.find((a) => a.node === nodeName);
      },
      60_000,
      `the agent of ${nodeName} to say hello to the hub`,
      250,
    );
    return { zone: run!.zone, output };
  } finally {
    proc.kill('SIGTERM');
    const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(t);
  }
}

test("an agent on a Kubernetes node reports its node's zone label to the hub; --zone wins", async () => {
  // Three agents at once (each stands for its node).
  const [a, b, c] = await Promise.all([zoneAtHub('zone-node-a'), zoneAtHub('zone-node-b', ['--zone', 'rack-7']), zoneAtHub('zone-node-unknown')]);
  assert.equal(a.zone, 'eu-west-1b', a.output);
  assert.ok(api.requests.some((r) => r.startsWith('GET /api/v1/nodes')), 'the zone came from the API server');
  assert.equal(b.zone, 'rack-7', '--zone is used as given');
  assert.equal(c.zone, '');
  assert.match(c.output, /has no node zone-node-unknown/);
});
