// The Kubernetes layer against a local server speaking list/watch with real object shapes: a pod of
// Deployment "checkout" on this node (a cgroup under kubepods + a netns with the pod's IP) talks to
// a pod of Deployment "payments" behind Service "payments". Labels appear, change when the payments
// pod is replaced, disappear when it is deleted, come back after 410 Gone and after the API server
// went away and returned.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import dgram from 'node:dgram';
import { tmpdir } from 'node:os';
import { rmSync } from 'node:fs';
import { startAgent, freePort, type RunningAgent } from '../support/agent.js';
import { createVethNamespace, type VethPair } from '../support/netns.js';
import { runCommand, sleep, waitFor } from '../support/run.js';
import { createCgroup, nodeClient, nodeServer, randomHex, waitForEdge, type CgroupDir, type ConnectionsEdge } from './support.js';
import { FakeApiServer, endpointSlice, node, pod, replicaSet, service } from './fake-apiserver.js';

const NODE = `fsid-node-${randomHex(2)}`;
const podUid = crypto.randomUUID();
const cid = randomHex(32);
const kubeconfig = join(tmpdir(), `fsid-kubeconfig-${randomHex(3)}.yaml`);
let api: FakeApiServer;
let agent: RunningAgent;
let veth: VethPair;
let cg: CgroupDir;
let server: { stop(): Promise<void> };
let port = 0;

const payments = (name: string, ip: string): ReturnType<typeof pod> =>
  pod({ ns: 'shop', name, node: 'node-3', ip, rs: 'payments-7f8d9c6b5', hash: '7f8d9c6b5', container: 'payments', image: 'registry.example/payments:v1.16' });

interface Caps {
  identity: { kubernetes: { enabled: boolean; resources: Array<{ resource: string; state: string; lists: number; lastError?: string }> } };
}

async function synced(a: RunningAgent, minLists = 1): Promise<void> {
  await waitFor(
    async () => {
      const c = await a.json<Caps>('/capabilities');
      return c.identity.kubernetes.resources.length === 6 && c.identity.kubernetes.resources.every((r) => r.state === 'synced' && r.lists >= minLists);
    },
    15_000,
    'all six resources listed and watched',
  );
}

/** Connects from the checkout pod and returns the client edge of those connections. */
async function connectAndGetEdge(pred: (e: ConnectionsEdge) => boolean, what: string): Promise<ConnectionsEdge> {
  await nodeClient(cg, veth.ns, veth.hostAddr, port, 2);
  return waitForEdge(agent.url, (e) => e.role === 'client' && e.port === port && pred(e), 5000, what);
}

before(async () => {
  veth = createVethNamespace();
  cg = createCgroup(`fsid-${randomHex(3)}/kubepods/burstable/pod${podUid}/${cid}`);
  api = new FakeApiServer();
  await api.start();
  api.kubeconfig(kubeconfig);
  api.add('nodes', node(NODE, '10.0.0.99', 'us-west-1a'));
  api.add('nodes', node('node-3', '10.0.0.3', 'us-west-1c'));
  api.add('replicasets', replicaSet('shop', 'checkout-5d9f8b7c6d', 'checkout'));
  api.add('replicasets', replicaSet('shop', 'payments-7f8d9c6b5', 'payments'));
  api.add('pods', pod({ ns: 'shop', name: 'checkout-5d9f8b7c6d-abcde', uid: podUid, node: NODE, ip: veth.peerAddr, rs: 'checkout-5d9f8b7c6d', hash: '5d9f8b7c6d', container: 'checkout', image: 'registry.example/checkout:v2.12a', containerId: cid }));
  api.add('pods', payments('payments-7f8d9c6b5-qwert', veth.hostAddr));
  api.add('services', service('shop', 'payments', '10.96.0.20', 8080));
  api.add('endpointslices', endpointSlice('shop', 'payments', [veth.hostAddr], 8080));
  port = await freePort();
  server = await nodeServer(undefined, undefined, veth.hostAddr, port);
  // The flow classifier on the pod's veth too: DNS from the pod crosses it.
  agent = await startAgent(['--kubeconfig', kubeconfig, '--node-name', NODE, '--flow-interfaces', `^(lo|${veth.host})$`]);
  await synced(agent);
});

after(async () => {
  await agent?.stop();
  await server?.stop();
  await api?.stop();
  veth?.destroy();
  cg?.destroy();
  rmSync(kubeconfig, { force: true });
});

test('both ends named: container, pod, namespace, workload (Deployment via ReplicaSet), service, node zone, image version', async () => {
  const e = await connectAndGetEdge((e) => e.peer.pod === 'payments-7f8d9c6b5-qwert', 'the first edge');
  assert.equal(e.local.container, 'checkout');
  assert.equal(e.local.pod, 'checkout-5d9f8b7c6d-abcde');
  assert.equal(e.local.namespace, 'shop');
  assert.equal(e.local.workload, 'checkout');
  assert.equal(e.local.workload_kind, 'Deployment');
  assert.equal(e.local.node, NODE);
  assert.equal(e.local.zone, 'us-west-1a');
  assert.equal(e.local.image, 'registry.example/checkout:v2.12a');
  assert.equal(e.local.version, 'v2.12a');
  assert.equal(e.local.container_id, cid);
  assert.equal(e.peer.namespace, 'shop');
  assert.equal(e.peer.workload, 'payments');
  assert.equal(e.peer.service, 'payments');
  assert.equal(e.peer.zone, 'us-west-1c');
  assert.equal(e.peer.container, 'payments', 'the remote pod\'s (first) container');
  assert.equal(e.peer.image, 'registry.example/payments:v1.16');
  assert.equal(e.peer.version, 'v1.16');
  const srv = await waitForEdge(agent.url, (e) => e.role === 'server' && e.port === port && e.peer.pod === 'checkout-5d9f8b7c6d-abcde', 3000, 'the server edge');
  assert.equal(srv.peer.workload, 'checkout');
  const m = await agent.scrape();
  assert.equal(
    m.sum('flowscope_tcp_connections_opened_total', { role: 'client', port: String(port), container: 'checkout', pod: 'checkout-5d9f8b7c6d-abcde', namespace: 'shop', workload: 'checkout', peer_pod: 'payments-7f8d9c6b5-qwert', peer_namespace: 'shop', peer_workload: 'payments', peer_service: 'payments' }),
    2,
    'every label on the metrics',
  );
});

test('a bookmark changes nothing; a replaced pod changes the labels; a deleted pod leaves the peer as world', async () => {
  api.bookmark();
  api.delete('pods', payments('payments-7f8d9c6b5-qwert', veth.hostAddr));
  api.add('pods', payments('payments-7f8d9c6b5-zx9v8', veth.hostAddr));
  await sleep(300);
  const replaced = await connectAndGetEdge((e) => e.peer.pod === 'payments-7f8d9c6b5-zx9v8', 'the replacement pod in the labels');
  assert.equal(replaced.peer.workload, 'payments');
  api.delete('pods', payments('payments-7f8d9c6b5-zx9v8', veth.hostAddr));
  api.delete('endpointslices', endpointSlice('shop', 'payments', [], 8080));
  await sleep(300);
  const gone = await connectAndGetEdge((e) => e.peer.workload === 'world' && e.connections.opened === 2, 'the deleted pod gone from the labels');
  assert.equal(gone.peer.pod, undefined);
  assert.equal(gone.peer.service, undefined);
  assert.equal(gone.local.pod, 'checkout-5d9f8b7c6d-abcde', 'the local side is unchanged');
});

test('410 Gone: the agent lists again and follows changes made after it', async () => {
  const before = (await agent.json<Caps>('/capabilities')).identity.kubernetes.resources.find((r) => r.resource === 'pods')!.lists;
  api.expire();
  api.add('pods', payments('payments-7f8d9c6b5-after410', veth.hostAddr));
  await waitFor(async () => (await agent.json<Caps>('/capabilities')).identity.kubernetes.resources.find((r) => r.resource === 'pods')!.lists > before, 5000, 'a new list of pods after 410');
  await connectAndGetEdge((e) => e.peer.pod === 'payments-7f8d9c6b5-after410', 'the pod added around the 410');
});

test('the API server goes away: a warning, metrics keep flowing; it comes back: labels follow again', async () => {
  const oldPort = api.port;
  await api.stop();
  await waitFor(async () => (await agent.json<Caps>('/capabilities')).identity.kubernetes.resources.some((r) => r.state === 'error'), 10_000, 'the agent noticing the API server is gone');
  // Exporting goes on with the labels it has.
  const during = await connectAndGetEdge((e) => e.peer.pod === 'payments-7f8d9c6b5-after410' && e.connections.opened >= 4, 'connections while the API server is away');
  assert.equal(during.local.workload, 'checkout');
  const health = await fetch(`${agent.url}/healthz`);
  assert.equal(health.status, 200);
  assert.match(agent.stderr(), /Kubernetes API http:\/\/127\.0\.0\.1:\d+: \w+ list\/watch failed/);
  // A new server process: same objects, a new pod, and resource versions the old watch cannot resume from.
  const next = new FakeApiServer(100_000);
  for (const o of [node(NODE, '10.0.0.99', 'us-west-1a'), node('node-3', '10.0.0.3', 'us-west-1c')]) next.add('nodes', o);
  next.add('replicasets', replicaSet('shop', 'checkout-5d9f8b7c6d', 'checkout'));
  next.add('replicasets', replicaSet('shop', 'payments-7f8d9c6b5', 'payments'));
  next.add('pods', pod({ ns: 'shop', name: 'checkout-5d9f8b7c6d-abcde', uid: podUid, node: NODE, ip: veth.peerAddr, rs: 'checkout-5d9f8b7c6d', hash: '5d9f8b7c6d', container: 'checkout', image: 'registry.example/checkout:v2.12a', containerId: cid }));
  next.add('pods', payments('payments-7f8d9c6b5-restarted', veth.hostAddr));
  await next.start(oldPort);
  api = next;
  await synced(agent);
  await connectAndGetEdge((e) => e.peer.pod === 'payments-7f8d9c6b5-restarted', 'labels from the returned API server');
});

test('packet drops name both ends from the same index: an iptables DROP in the checkout pod, from the payments pod', async () => {
  const dport = 30000 + Math.floor(Math.random() * 20000);
  veth.exec('iptables', ['-A', 'INPUT', '-p', 'udp', '--dport', String(dport), '-j', 'DROP']);
  const sock = dgram.createSocket('udp4');
  try {
    await new Promise<void>((r) => sock.bind(0, veth.hostAddr, () => r()));
    for (let i = 0; i < 9; i++) await new Promise<void>((r, j) => sock.send(Buffer.from('x'), dport, veth.peerAddr, (e) => (e ? j(e) : r())));
    // Ground truth: the rule's own packet counter.
    const rule = veth.exec('iptables', ['-L', 'INPUT', '-v', '-x', '-n']).split('\n').find((l) => l.includes(`dpt:${dport}`))!;
    const dropped = Number(rule.trim().split(/\s+/)[0]);
    assert.equal(dropped, 9);
    const labels = { reason: 'NETFILTER_DROP', direction: 'received', protocol: 'udp', peer_addr: veth.hostAddr, namespace: 'shop', pod: 'checkout-5d9f8b7c6d-abcde', workload: 'checkout', peer_namespace: 'shop', peer_workload: 'payments' };
    const m = await agent.waitFor((m) => m.sum('flowscope_packet_drops_total', labels) === dropped, 5000, `${dropped} drops named after both pods`).catch(async (err: Error) => {
      const lines = (await agent.text()).split('\n').filter((l) => l.startsWith('flowscope_packet_drops_total') && l.includes('NETFILTER'));
      throw new Error(`${err.message}: ${lines.join(' | ')}`);
    });
    assert.equal(m.sum('flowscope_packet_drops_total', labels), dropped);
    // Whichever payments pod holds that IP now (an earlier test replaced the first one).
    for (const sample of m.select('flowscope_packet_drops_total', labels)) assert.match(sample.labels.peer_pod!, /^payments-7f8d9c6b5-/);
  } finally {
    sock.close();
    veth.exec('iptables', ['-D', 'INPUT', '-p', 'udp', '--dport', String(dport), '-j', 'DROP']);
  }
});

test('DNS requests name the asking pod: queries from the checkout pod to a resolver on the node', async () => {
  // A resolver on the node's end of the pod's veth: answers each query with NOERROR (no records) or,
  // for names under missing., NXDOMAIN; its own count is the ground truth.
  const resolver = dgram.createSocket('udp4');
  const answered = { NOERROR: 0, NXDOMAIN: 0 };
  resolver.on('message', (q, from) => {
    const nx = q.includes(Buffer.from('\x07missing', 'latin1'));
    const r = Buffer.from(q);
    r[2] = 0x80 | (q[2]! & 0x01); // QR, RD as asked
    r[3] = 0x80 | (nx ? 3 : 0); // RA, rcode
    resolver.send(r, from.port, from.address, () => answered[nx ? 'NXDOMAIN' : 'NOERROR']++);
  });
  await new Promise<void>((r, j) => {
    resolver.once('error', j);
    resolver.bind(53, veth.hostAddr, () => r());
  });
  try {
    const client = `const r=new (require('dns').promises.Resolver)({timeout:2000,tries:1});r.setServers(['${veth.hostAddr}']);
(async()=>{for(const n of ['a','b','c','d','missing.e','missing.f'])await r.resolve4(n+'.shop.test').catch(()=>{})})()`;
    // Not synchronous: the resolver answers from this process's event loop.
    const r = await runCommand('nsenter', [`--net=/run/netns/${veth.ns}`, process.execPath, '-e', client], { timeoutMs: 30_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(answered, { NOERROR: 4, NXDOMAIN: 2 });
    const asker = { server: veth.hostAddr, qtype: 'A', namespace: 'shop', pod: 'checkout-5d9f8b7c6d-abcde', workload: 'checkout' };
    const m = await agent.waitFor((m) => m.sum('flowscope_dns_requests_total', asker) >= 6, 5000, 'six requests named after the checkout pod').catch(async (err: Error) => {
      const lines = (await agent.text()).split('\n').filter((l) => l.startsWith('flowscope_dns_requests_total'));
      throw new Error(`${err.message}: ${lines.join(' | ')}`);
    });
    assert.equal(m.sum('flowscope_dns_requests_total', { ...asker, rcode: 'NOERROR' }), answered.NOERROR);
    assert.equal(m.sum('flowscope_dns_requests_total', { ...asker, rcode: 'NXDOMAIN' }), answered.NXDOMAIN);
    assert.equal(m.sum('flowscope_dns_request_duration_seconds_count', asker), 6);
  } finally {
    resolver.close();
  }
});
