// An agent on a Kubernetes node without --zone takes its zone from the node's
// topology.kubernetes.io/zone label (the API server here is the project's fake, speaking the real
// list/watch protocol): a node that appears after the agent started is picked up, the hub hears a new
// hello and its status and zone view name the zone; --zone, when given, wins.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startAgent, type RunningAgent } from '../support/agent.js';
import { waitFor } from '../support/run.js';
import { FakeApiServer, node } from '../identity/fake-apiserver.js';
import { startTestHub, type TestHub } from './support.js';

const suffix = randomBytes(3).toString('hex');
const kubeconfig = join(tmpdir(), `fs-zone-kubeconfig-${suffix}.yaml`);
const NODE = `zone-node-${suffix}`;
const OTHER = `zone-other-${suffix}`;
let api: FakeApiServer | undefined;
let hub: TestHub | undefined;
const agents: RunningAgent[] = [];

after(async () => {
  for (const a of agents) await a.stop().catch(() => undefined);
  await hub?.destroy();
  await api?.stop();
  rmSync(kubeconfig, { force: true });
});

interface AgentStatus {
  node: string;
  zone: string;
  reporting: boolean;
}

async function agentStatus(node: string): Promise<AgentStatus | undefined> {
  const s = (await hub!.get('/api/v1/status')).body as { agents: AgentStatus[] };
  return s.agents.find((a) => a.node === node);
}

test("the agent's zone comes from its Kubernetes node's label, also when the node appears after start", { timeout: 90_000 }, async () => {
  api = new FakeApiServer();
  await api.start();
  api.kubeconfig(kubeconfig);
  api.add('nodes', node(OTHER, '10.0.0.98', 'zone-explicit-loses'));
  hub = await startTestHub();
  const common = ['--no-flows', '--no-l7', '--kubeconfig', kubeconfig, '--hub', hub.url];
  agents.push(await startAgent([...common, '--node-name', NODE]));
  agents.push(await startAgent([...common, '--node-name', OTHER, '--zone', 'zone-given']));
  // No node object yet: the agent reports, without a zone.
  const before = (await waitFor(() => agentStatus(NODE).then((a) => (a?.reporting ? a : undefined)), 30_000, 'the agent reporting'))!;
  assert.equal(before.zone, '', 'no zone before the node is known');
  api.add('nodes', node(NODE, '10.0.0.99', 'zone-from-label'));
  const afterwards = (await waitFor(() => agentStatus(NODE).then((a) => (a?.zone === 'zone-from-label' ? a : undefined)), 30_000, "the node's label at the hub"))!;
  assert.ok(afterwards.reporting);
  const given = (await waitFor(() => agentStatus(OTHER), 30_000, 'the agent with --zone reporting'))!;
  assert.equal(given.zone, 'zone-given', '--zone wins over the label');
});
