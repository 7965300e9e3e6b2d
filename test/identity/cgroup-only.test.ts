// The cgroup-only path: a "container" made of a cgroup v2 directory named by a container id and a
// network namespace, with no runtime at all, is labelled with its id on both ends of the edge.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startAgent, freePort, type RunningAgent } from '../support/agent.js';
import { createVethNamespace, type VethPair } from '../support/netns.js';
import { createCgroup, nodeClient, nodeServer, randomHex, waitForEdge, type CgroupDir } from './support.js';

let agent: RunningAgent;
let veth: VethPair;
let cg: CgroupDir;
const id = randomHex(32);
before(async () => {
  veth = createVethNamespace();
  cg = createCgroup(`fsid-${randomHex(3)}/${id}`);
  agent = await startAgent();
});
after(async () => {
  await agent?.stop();
  veth?.destroy();
  cg?.destroy();
});

test('a process in a bare cgroup v2 directory + netns: container label is the id, runtime "cgroup"', async () => {
  const port = await freePort();
  const server = await nodeServer(undefined, undefined, veth.hostAddr, port);
  try {
    await nodeClient(cg, veth.ns, veth.hostAddr, port, 3);
    const e = await waitForEdge(agent.url, (e) => e.role === 'client' && e.port === port && e.connections.closed === 3, 3000, 'the client edge');
    assert.equal(e.local.container, id.slice(0, 12), 'short id as the container label');
    assert.equal(e.local.container_id, id);
    assert.equal(e.local.runtime, 'cgroup');
    assert.match(String(e.local.reason), /no runtime/);
    assert.equal(e.local.cgroup, cg.rel);
    const m = await agent.scrape();
    assert.equal(m.sum('flowscope_tcp_connections_closed_total', { role: 'client', port: String(port), container: id.slice(0, 12) }), 3, 'the container label is on the metrics');
    assert.equal(m.sum('flowscope_tcp_connections_closed_total', { role: 'server', port: String(port), container: '' }), 3, 'the server (on the host) has no container');
  } finally {
    await server.stop();
  }
});

test('a cgroup created just after the agent walked the hierarchy gets its label once the next walk finds it', async () => {
  const port = await freePort();
  const server = await nodeServer(undefined, undefined, veth.hostAddr, port);
  const first = createCgroup(`fsid-${randomHex(3)}/${randomHex(32)}`);
  const lateId = randomHex(32);
  let late: CgroupDir | undefined;
  try {
    // An unknown cgroup makes the agent walk the hierarchy (at most every 2 s)...
    await nodeClient(first, veth.ns, veth.hostAddr, port, 1);
    // ...so a cgroup made right after is not in that walk: its first connection may have no label.
    late = createCgroup(`fsid-${randomHex(3)}/${lateId}`);
    await nodeClient(late, veth.ns, veth.hostAddr, port, 1);
    await new Promise((r) => setTimeout(r, 2500));
    await nodeClient(late, veth.ns, veth.hostAddr, port, 2);
    // Their closes reach the edge an interval after their opens: wait for both.
    const e = await waitForEdge(agent.url, (e) => e.role === 'client' && e.port === port && e.local.container_id === lateId && e.connections.closed >= 2, 4000, 'the late cgroup\'s later connections labelled after the next walk');
    assert.equal(e.local.container, lateId.slice(0, 12));
    assert.ok(e.connections.closed >= 2, `later connections carry the label (${e.connections.closed} closed)`);
  } finally {
    await server.stop();
    first.destroy();
    late?.destroy();
  }
});
