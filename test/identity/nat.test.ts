// NAT: inside a network namespace, an iptables DNAT rule sends a virtual IP to a backend on the
// host; the client's edge keeps the address it dialled as peer and shows where it landed as actual_peer.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startAgent, freePort, type RunningAgent } from '../support/agent.js';
import { createVethNamespace, type VethPair } from '../support/netns.js';
import { sh } from '../support/run.js';
import { nodeClient, nodeServer, waitForEdge } from './support.js';

let agent: RunningAgent;
let veth: VethPair;
before(async () => {
  veth = createVethNamespace();
  agent = await startAgent();
});
after(async () => {
  await agent?.stop();
  // The rules live in the namespace: deleting it removes them and its conntrack table.
  veth?.destroy();
});

test('a connection to a DNATed virtual IP reports peer (the VIP) and actual_peer (the backend)', async () => {
  const port = await freePort();
  const vip = `10.96.${Math.floor(Math.random() * 200) + 20}.10`;
  const server = await nodeServer(undefined, undefined, veth.hostAddr, port);
  try {
    veth.exec('ip', ['route', 'add', 'default', 'via', veth.hostAddr]);
    veth.exec('iptables', ['-t', 'nat', '-A', 'OUTPUT', '-d', vip, '-p', 'tcp', '--dport', '80', '-j', 'DNAT', '--to-destination', `${veth.hostAddr}:${port}`]);
    await nodeClient(undefined, veth.ns, vip, 80, 4);
    const truth = sh('ip', ['netns', 'exec', veth.ns, 'conntrack', '-L', '-p', 'tcp', '--dst-nat'], { allowFail: false });
    assert.ok(truth.includes(`dst=${vip}`), `conntrack(8) itself shows the translation: ${truth}`);
    const e = await waitForEdge(agent.url, (e) => e.role === 'client' && e.peer.addr === vip && e.actual_peers.length > 0 && e.connections.closed === 4, 5000, 'the client edge with its actual peer');
    assert.equal(e.port, 80, 'the service port is the one dialled');
    assert.deepEqual({ addr: e.actual_peer!.addr, port: e.actual_peer!.port }, { addr: veth.hostAddr, port });
    assert.equal(e.actual_peers[0]!.connections, 4, 'each connection looked up');
    const srv = await waitForEdge(agent.url, (e) => e.role === 'server' && e.port === port && e.connections.closed === 4, 3000, 'the server edge');
    assert.equal(srv.peer.addr, veth.peerAddr);
    const caps = await agent.json<{ identity: { nat: { state: string; translated: number } } }>('/capabilities');
    assert.equal(caps.identity.nat.state, 'ok');
    assert.ok(caps.identity.nat.translated >= 4);
  } finally {
    await server.stop();
  }
});
