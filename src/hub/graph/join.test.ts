import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RTT_BUCKETS, wire } from '../../model/index.js';
import { C } from './counters.js';
import { CLIENT, EdgeDictionary, SERVER } from './edges.js';
import { EndpointDictionary } from './endpoint.js';
import { Joiner, type Contribution } from './join.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');

function record(over: Partial<wire.TcpEdgeV1> & Pick<wire.TcpEdgeV1, 'role' | 'process' | 'peer' | 'port'>): wire.TcpEdgeV1 {
  return { local: {}, remote: {}, opened: 1, closed: 1, active: 0, bytes_sent: 100, bytes_received: 200, retransmits: 0, resets_sent: 0, resets_received: 0, ...over };
}

function batch(node: string, seq: number, fromS: number, tcp: wire.TcpEdgeV1[], flows: wire.FlowEdgeV1[] = []): wire.BatchV1 {
  return {
    v: 1,
    kind: 'batch',
    run: { agent: node, node, start: new Date(T0).toISOString() },
    seq,
    from: new Date(T0 + fromS * 1000).toISOString(),
    to: new Date(T0 + (fromS + 1) * 1000).toISOString(),
    tcp,
    flows,
    drops: [],
    dns: [],
    losses: { events: {}, rolled_up: 0, flows: {}, batches_dropped: 0 },
  };
}

function setup() {
  const endpoints = new EndpointDictionary();
  const edges = new EdgeDictionary();
  const joiner = new Joiner(endpoints, edges);
  const feed = (b: wire.BatchV1): void => void joiner.observe({ node: b.run.node, zone: 'z1' }, b, { from: Date.parse(b.from), to: Date.parse(b.to) });
  const resolve = (b: wire.BatchV1): Contribution[] => joiner.resolve({ node: b.run.node, zone: 'z1' }, b, { from: Date.parse(b.from), to: Date.parse(b.to) });
  const describe = (c: Contribution): string => {
    const e = edges.get(c.edge);
    const name = (id: number): string => {
      const ep = endpoints.get(id);
      return ep.kind === 'process' ? `${ep.node}/${ep.pod || ep.process}` : `${ep.kind}:${ep.dns || ep.addr}`;
    };
    return `${name(e.client)} -> ${name(e.server)}:${e.port} ${c.side === CLIENT ? 'client' : 'server'}`;
  };
  return { endpoints, edges, joiner, feed, resolve, describe };
}

test('a client and a server reported by two agents join into one edge with both sides', () => {
  const { feed, resolve, describe, joiner } = setup();
  const client = batch('node-a', 1, 0, [record({ role: 'client', process: 'curl', peer: '10.0.0.2', port: 80, local_addrs: ['10.0.0.1'], opened: 5 })]);
  const server = batch('node-b', 1, 0, [record({ role: 'server', process: 'nginx', peer: '10.0.0.1', port: 80, local_addrs: ['10.0.0.2'], opened: 5 })]);
  feed(client);
  feed(server);
  const all = [...resolve(client), ...resolve(server)];
  assert.deepEqual(all.map(describe).sort(), ['node-a/curl -> node-b/nginx:80 client', 'node-a/curl -> node-b/nginx:80 server']);
  assert.equal(new Set(all.map((c) => c.edge)).size, 1, 'one fine edge');
  assert.equal(all.find((c) => c.side === SERVER)!.values[C.opened], 5);
  assert.equal(joiner.resolved.joined, 2);
});

test('an address that changes hands: each interval goes to the holder at that time', () => {
  const { feed, resolve, describe } = setup();
  const oldPod = batch('node-b', 1, 0, [record({ role: 'server', process: 'app', peer: '10.0.0.1', port: 80, local_addrs: ['10.0.0.9'], local: { pod: 'old-pod' } })]);
  const newPod = batch('node-c', 1, 60, [record({ role: 'server', process: 'app', peer: '10.0.0.1', port: 80, local_addrs: ['10.0.0.9'], local: { pod: 'new-pod' } })]);
  const before = batch('node-a', 1, 0, [record({ role: 'client', process: 'curl', peer: '10.0.0.9', port: 80, local_addrs: ['10.0.0.1'] })]);
  const after = batch('node-a', 2, 60, [record({ role: 'client', process: 'curl', peer: '10.0.0.9', port: 80, local_addrs: ['10.0.0.1'] })]);
  for (const b of [oldPod, newPod, before, after]) feed(b);
  assert.deepEqual(resolve(before).map(describe), ['node-a/curl -> node-b/old-pod:80 client']);
  assert.deepEqual(resolve(after).map(describe), ['node-a/curl -> node-c/new-pod:80 client']);
  // The new pod's callers are only those of its own time.
  assert.deepEqual(resolve(newPod).map(describe), ['node-a/curl -> node-c/new-pod:80 server']);
});

test('a client that reached a service address joins the backend its connections landed on', () => {
  const { feed, resolve, describe } = setup();
  const client = batch('node-a', 1, 0, [
    record({ role: 'client', process: 'curl', peer: '10.96.0.10', port: 80, local_addrs: ['10.0.0.1'], opened: 4, actual_peers: [{ addr: '10.0.0.2', port: 8080, connections: 3 }, { addr: '10.0.0.3', port: 8080, connections: 1 }] }),
  ]);
  const b1 = batch('node-b', 1, 0, [record({ role: 'server', process: 'api', peer: '10.0.0.1', port: 8080, local_addrs: ['10.0.0.2'], opened: 3 })]);
  const b2 = batch('node-c', 1, 0, [record({ role: 'server', process: 'api', peer: '10.0.0.1', port: 8080, local_addrs: ['10.0.0.3'], opened: 1 })]);
  for (const b of [client, b1, b2]) feed(b);
  const out = resolve(client);
  assert.deepEqual(out.map(describe).sort(), ['node-a/curl -> node-b/api:8080 client', 'node-a/curl -> node-c/api:8080 client']);
  const opened = out.map((c) => c.values[C.opened]).sort();
  assert.deepEqual(opened, [1, 3], 'split by where the connections landed');
  assert.deepEqual(resolve(b1).map(describe), ['node-a/curl -> node-b/api:8080 server']);
});

test('a peer no agent reports is external, named by the DNS name the agent saw', () => {
  const { feed, resolve, describe, endpoints, edges } = setup();
  const b = batch('node-a', 1, 0, [record({ role: 'client', process: 'curl', peer: '93.184.216.34', port: 443, local_addrs: ['10.0.0.1'] })], [
    { direction: 'egress', protocol: 'tcp', interface: 'eth0', peer: '93.184.216.34', port: 443, peer_dns: 'example.com', packets: 10, bytes: 1000 },
  ]);
  feed(b);
  const out = resolve(b);
  assert.deepEqual(out.map(describe), ['node-a/curl -> external:example.com:443 client']);
  assert.equal(endpoints.get(edges.get(out[0]!.edge).server).addr, '93.184.216.34');
});

test('two processes on one address that called the same server share its view by their traffic', () => {
  const { feed, resolve, describe } = setup();
  const clients = batch('node-a', 1, 0, [
    record({ role: 'client', process: 'a', peer: '10.0.0.2', port: 80, local_addrs: ['10.0.0.1'], opened: 30 }),
    record({ role: 'client', process: 'b', peer: '10.0.0.2', port: 80, local_addrs: ['10.0.0.1'], opened: 10 }),
  ]);
  const server = batch('node-b', 1, 0, [record({ role: 'server', process: 'nginx', peer: '10.0.0.1', port: 80, local_addrs: ['10.0.0.2'], opened: 40 })]);
  feed(clients);
  feed(server);
  const out = resolve(server);
  assert.deepEqual(out.map(describe).sort(), ['node-a/a -> node-b/nginx:80 server', 'node-a/b -> node-b/nginx:80 server']);
  const byName = new Map(out.map((c) => [describe(c), c.values[C.opened]!]));
  assert.ok(Math.abs(byName.get('node-a/a -> node-b/nginx:80 server')! - 30) < 0.01);
  assert.ok(Math.abs(byName.get('node-a/b -> node-b/nginx:80 server')! - 10) < 0.01);
});

test('a holder that has not reported this interval yet still names the peer (its last report)', () => {
  const { feed, resolve, describe, joiner } = setup();
  feed(batch('node-b', 1, 0, [record({ role: 'server', process: 'nginx', peer: '10.0.0.1', port: 80, local_addrs: ['10.0.0.2'] })]));
  const later = batch('node-a', 1, 30, [record({ role: 'client', process: 'curl', peer: '10.0.0.2', port: 80, local_addrs: ['10.0.0.1'] })]);
  feed(later);
  assert.deepEqual(resolve(later).map(describe), ['node-a/curl -> node-b/nginx:80 client']);
  assert.equal(joiner.resolved.recent, 1);
});

test("a reporting process is one endpoint per identity: the same pod's process with other labels, image or node is another", () => {
  const { joiner, endpoints } = setup();
  const run = { node: 'node-a', zone: 'z1' };
  const rec = (local: wire.WorkloadV1, cgroup?: string): wire.TcpEdgeV1 => record({ role: 'client', process: 'app', peer: '10.0.0.2', port: 80, local, ...(cgroup ? { cgroup } : {}) });
  const base = { pod: 'p1', namespace: 'ns', workload: 'w', image: 'img:1', labels: { app: 'w', tier: 'web' } };
  const records = [
    rec(base),
    rec({ ...base, labels: { tier: 'web', app: 'w' } }), // the same labels in another order
    rec({ ...base, labels: { app: 'w' } }),
    rec({ ...base, labels: { app: 'w', tier: 'db' } }),
    rec({ ...base, image: 'img:2' }),
    rec({ ...base, node: 'node-z' }),
    rec(base, '/kubepods/x'),
  ];
  const ids = [...joiner.localEndpoints(run, batch('node-a', 1, 0, records))];
  assert.equal(ids[1], ids[0], 'labels in another order are the same identity');
  assert.equal(new Set(ids).size, 6, `six identities: ${ids.join(',')}`);
  // Asked again (another batch), each record finds its own endpoint.
  assert.deepEqual([...joiner.localEndpoints(run, batch('node-a', 2, 1, records))], ids);
  assert.equal(endpoints.get(ids[5]!).node, 'node-z');
  assert.equal(endpoints.get(ids[6]!).cgroup, '/kubepods/x');
  assert.equal(endpoints.size, 6);
});

test('records sent as columns join into the same edges with the same counters as records', () => {
  const pod = (name: string): wire.WorkloadV1 => ({ pod: name, namespace: 'shop', workload: name.split('-')[0], labels: { app: name.split('-')[0]! } });
  const hist = (n: number): wire.HistogramV1 => ({ counts: RTT_BUCKETS.map((_, i) => (i === 2 ? n : 0)), sum: 0.01 * n, count: n });
  const clients = [
    record({ role: 'client', process: 'web', cgroup: '/pod-web-1', peer: '10.0.0.2', port: 80, local: pod('web-1'), remote: pod('api-1'), local_addrs: ['10.0.0.1'], opened: 3, failures: { refused: 1 } }),
    record({ role: 'client', process: 'web', cgroup: '/pod-web-1', peer: '10.0.0.3', port: 80, local: pod('web-1'), remote: pod('api-2'), local_addrs: ['10.0.0.1'], opened: 2, rtt: hist(2) }),
    record({ role: 'client', process: 'web', peer: '10.96.0.1', port: 80, local: pod('web-1'), remote: { service: 'api' }, local_addrs: ['10.0.0.1'], actual_peers: [{ addr: '10.0.0.2', port: 80, connections: 3 }, { addr: '10.0.0.3', port: 80, connections: 1 }], opened: 4, requests: { count: 9, errors: 1, by_status: { '2xx': 8, '5xx': 1 } } }),
    record({ role: 'client', process: 'cron', peer: '93.184.216.34', port: 443, local: pod('cron-1'), remote: {}, local_addrs: ['10.0.0.4'] }),
  ];
  const servers = [
    record({ role: 'server', process: 'api', peer: '10.0.0.1', port: 80, local: pod('api-1'), remote: pod('web-1'), local_addrs: ['10.0.0.2'], opened: 6 }),
    record({ role: 'server', process: 'api', peer: '10.0.0.1', port: 80, local: pod('api-2'), remote: pod('web-1'), local_addrs: ['10.0.0.3'], opened: 3 }),
  ];
  for (const r of clients) for (const k of Object.keys(r) as Array<keyof wire.TcpEdgeV1>) if (r[k] === undefined) delete r[k];
  const run = (columns: boolean): string[] => {
    const { feed, resolve, describe } = setup();
    const asSent = (b: wire.BatchV1): wire.BatchV1 => (columns ? { tcp: [], ...(JSON.parse(JSON.stringify(wire.columnarBatch(b))) as wire.ColumnarBatchV1) } : b);
    const a = asSent(batch('node-a', 1, 0, clients));
    const b = asSent(batch('node-b', 1, 0, servers));
    if (columns) assert.equal(a.tcp.length, 0, 'the records came as columns');
    feed(a);
    feed(b);
    return [...resolve(a), ...resolve(b)].map((c) => `${describe(c)} ${Array.from(c.values).join(',')}`).sort();
  };
  const records = run(false);
  // Two client processes of web-1 (with and without a cgroup) share its address: the servers' sides are split between them.
  assert.equal(records.length, 9);
  assert.deepEqual(run(true), records);
});

test('the claims answer the same after their address dictionary is numbered anew', () => {
  const run = (compact: boolean): string[] => {
    const { feed, resolve, describe, joiner } = setup();
    const client = batch('node-a', 1, 0, [record({ role: 'client', process: 'curl', peer: '10.0.0.2', port: 80, local_addrs: ['10.0.0.1'], opened: 5 }), record({ role: 'client', process: 'curl', peer: '10.0.0.3', port: 443, local_addrs: ['10.0.0.1'] })]);
    const server = batch('node-b', 1, 0, [record({ role: 'server', process: 'nginx', peer: '10.0.0.1', port: 80, local_addrs: ['10.0.0.2'], opened: 5 })]);
    const gone = batch('node-c', 1, 0, [record({ role: 'server', process: 'old', peer: '10.9.9.9', port: 80, local_addrs: ['10.9.9.8'] })]);
    feed(gone);
    joiner.prune(T0 + 2 * 3_600_000);
    feed(client);
    feed(server);
    if (compact) {
      const before = joiner.keys.addrs.length;
      joiner.compactKeys();
      assert.ok(joiner.keys.addrs.length < before, `pruned addresses left the dictionary (${before} -> ${joiner.keys.addrs.length})`);
    }
    return [...resolve(client), ...resolve(server)].map(describe).sort();
  };
  const plain = run(false);
  assert.deepEqual(plain, ['node-a/curl -> external:10.0.0.3:443 client', 'node-a/curl -> node-b/nginx:80 client', 'node-a/curl -> node-b/nginx:80 server']);
  assert.deepEqual(run(true), plain);
});
