// The query API over a hub fed three agents' batches: graph in several views, neighbourhood,
// search, breakdown, diff, history, stream; every answer checked against the OpenAPI document;
// bad requests get 400 naming the parameter; ingest refuses garbage, oversized bodies and
// requests without the token, and changes nothing when it does.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { wire } from '../../src/model/index.js';
import { CONNECT_BUCKETS, RTT_BUCKETS } from '../../src/model/distribution.js';
import { batch, hello, tcp, type AgentRun } from './batches.js';
import { startTestHub, type TestHub } from './support.js';

const MIN = 60_000;
const now = Date.now();
const start = new Date(now - 60 * MIN).toISOString();
const a: AgentRun = { agent: 'node-a', node: 'node-a', zone: 'zone-1', start };
const b: AgentRun = { agent: 'node-b', node: 'node-b', zone: 'zone-1', start };
const c: AgentRun = { agent: 'node-c', node: 'node-c', zone: 'zone-2', start };

const checkout: wire.WorkloadV1 = { pod: 'checkout-1', namespace: 'shop', workload: 'checkout', version: 'v2', image: 'shop/checkout:v2', labels: { app: 'checkout', tier: 'web' } };
const payments1: wire.WorkloadV1 = { pod: 'payments-1', namespace: 'shop', workload: 'payments', service: 'payments', version: 'v1', image: 'shop/payments:v1', labels: { app: 'payments', tier: 'backend' } };
const payments2: wire.WorkloadV1 = { ...payments1, pod: 'payments-2' };

function hist(layout: readonly number[], bucket: number, n: number, value: number): wire.HistogramV1 {
  const counts = layout.map((_, i) => (i === bucket ? n : 0));
  return { counts, sum: n * value, count: n };
}

/** One interval of traffic: checkout calls payments-1 (healthy), payments-2 (refusing some, slow) and example.com. */
function interval(seq: number, t: number, withPayments2: boolean): wire.BatchV1[] {
  const from = t - 10_000;
  const clientRecords = [
    tcp({ role: 'client', process: 'checkout', peer: '10.2.0.1', port: 8080, local: checkout, local_addrs: ['10.1.0.1'], opened: 10, closed: 10, bytes_sent: 1000, bytes_received: 5000, connect: hist(CONNECT_BUCKETS, 3, 10, 0.0008), rtt: hist(RTT_BUCKETS, 2, 10, 0.0002) }),
    tcp({ role: 'client', process: 'checkout', peer: '93.184.216.34', port: 443, local: checkout, local_addrs: ['10.1.0.1'], opened: 1, closed: 1, bytes_sent: 300, bytes_received: 9000 }),
  ];
  if (withPayments2) {
    clientRecords.push(
      tcp({ role: 'client', process: 'checkout', peer: '10.3.0.1', port: 8080, local: checkout, local_addrs: ['10.1.0.1'], opened: 10, closed: 10, failures: { refused: 5 }, bytes_sent: 1000, bytes_received: 5000, connect: hist(CONNECT_BUCKETS, 8, 10, 0.04), rtt: hist(RTT_BUCKETS, 9, 10, 0.04) }),
    );
  }
  const out = [
    batch(a, seq, from, t, clientRecords, { flows: [{ direction: 'egress', protocol: 'tcp', interface: 'eth0', peer: '93.184.216.34', port: 443, peer_dns: 'example.com', packets: 20, bytes: 9300 }] }),
    batch(b, seq, from, t, [tcp({ role: 'server', process: 'payments', peer: '10.1.0.1', port: 8080, local: payments1, local_addrs: ['10.2.0.1'], opened: 10, closed: 10, bytes_sent: 5000, bytes_received: 1000, rtt: hist(RTT_BUCKETS, 2, 10, 0.0002) })]),
  ];
  out.push(batch(c, seq, from, t, withPayments2 ? [tcp({ role: 'server', process: 'payments', peer: '10.1.0.1', port: 8080, local: payments2, local_addrs: ['10.3.0.1'], opened: 10, closed: 10, bytes_sent: 5000, bytes_received: 1000 })] : []));
  return out;
}

let hub: TestHub;
let schemas: Ajv2020;

function conforms(schema: string, body: unknown): void {
  const validate = schemas.getSchema(`https://flowscope.dev/openapi.json#/components/schemas/${schema}`);
  assert.ok(validate, `schema ${schema} exists`);
  assert.ok(validate(body), `answer matches the OpenAPI schema ${schema}: ${JSON.stringify(validate.errors?.slice(0, 3))}`);
}

before(async () => {
  hub = await startTestHub();
  assert.equal((await hub.post([hello(a, 10_000), hello(b, 10_000), hello(c, 10_000)])).status, 200);
  // Baseline: 30 to 20 minutes ago, payments-2 not there yet. Then the last 4 minutes with it.
  let seq = 0;
  const messages: wire.BatchV1[] = [];
  for (let t = now - 30 * MIN + 10_000; t <= now - 20 * MIN; t += 10_000) messages.push(...interval(++seq, t, false));
  for (let t = now - 4 * MIN + 10_000; t <= now - 10_000; t += 10_000) messages.push(...interval(++seq, t, true));
  const r = await hub.post(messages);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.applied, messages.length);
  await hub.settle();
  const doc = (await hub.get('/api/openapi.json')).body;
  schemas = new Ajv2020({ strict: false, allErrors: true });
  schemas.addSchema({ ...doc, $id: 'https://flowscope.dev/openapi.json' });
});

after(async () => {
  await hub.destroy();
});

test('the workload graph joins both agents\' views of checkout -> payments and names the external peer by DNS', async () => {
  const { status, body } = await hub.get('/api/v1/graph?view=workload&sides=true');
  assert.equal(status, 200);
  conforms('Graph', body);
  // Without sides=true (the map's default), the same edges without each side's own view.
  const lean = (await hub.get('/api/v1/graph?view=workload')).body;
  conforms('Graph', lean);
  assert.deepEqual(
    lean.edges.map((e: any) => e.id),
    body.edges.map((e: any) => e.id),
  );
  assert.ok(lean.edges.every((e: any) => !('client' in e) && !('server' in e)), 'no side views unless asked');
  assert.deepEqual(lean.edges[0], Object.fromEntries(Object.entries(body.edges[0]).filter(([k]) => k !== 'client' && k !== 'server')));
  // Compressed for a client that accepts gzip (answers from 8 KiB on).
  const window = `from=${encodeURIComponent(body.from)}&to=${encodeURIComponent(body.to)}`;
  const plain = await hub.get(`/api/v1/graph?view=pod&sides=true&${window}`);
  const gz = await fetch(`${hub.url}/api/v1/graph?view=pod&sides=true&${window}`, { headers: { 'accept-encoding': 'gzip' } });
  assert.deepEqual(await gz.json(), plain.body, 'the same answer with gzip accepted');
  const doc = await hub.get('/api/openapi.json');
  assert.ok(doc.text.length >= 8192);
  const docGz = await fetch(`${hub.url}/api/openapi.json`, { headers: { 'accept-encoding': 'gzip' } });
  assert.equal(docGz.headers.get('content-encoding'), 'gzip', 'large answers are compressed');
  assert.deepEqual(await docGz.json(), doc.body);
  const refused = await fetch(`${hub.url}/api/openapi.json`, { headers: { 'accept-encoding': 'gzip;q=0, identity' } });
  assert.equal(refused.headers.get('content-encoding'), null, 'gzip;q=0 is honoured');
  const edge = body.edges.find((e: any) => e.source === 'workload:shop/checkout' && e.target === 'workload:shop/payments');
  assert.ok(edge, JSON.stringify(body.edges.map((e: any) => e.id)));
  assert.deepEqual(edge.sides, ['client', 'server']);
  // 23 intervals in the window, 20 connections each (10 per payments pod), 5 refused per interval.
  assert.equal(edge.connections, 23 * 20);
  assert.deepEqual(edge.failures, { refused: 23 * 5 });
  assert.equal(edge.server.connections, 23 * 20);
  assert.equal(edge.bytes_sent, 23 * 2000);
  assert.ok(edge.connect_p99_seconds > 0.025, 'the slow pod shows in the p99');
  const ext = body.edges.find((e: any) => e.target === 'external:example.com');
  assert.ok(ext, 'the peer no agent reports is external, named by DNS');
  assert.deepEqual(ext.sides, ['client']);
  assert.equal(ext.port, 443);
  const node = body.nodes.find((n: any) => n.id === 'workload:shop/payments');
  assert.equal(node.kind, 'workload');
  assert.equal(node.labels.node, 'node-b,node-c');
  assert.equal(node.labels.zone, 'zone-1,zone-2');
});

test('finer and label views: pods carry node and zone; label:KEY groups by a workload label', async () => {
  const pods = (await hub.get('/api/v1/graph?view=pod')).body;
  const p2 = pods.nodes.find((n: any) => n.id === 'pod:shop/payments-2');
  assert.equal(p2.labels.node, 'node-c');
  assert.equal(p2.labels.zone, 'zone-2');
  assert.equal(pods.edges.filter((e: any) => e.source === 'pod:shop/checkout-1' && e.target.startsWith('pod:shop/payments')).length, 2);
  const tiers = (await hub.get('/api/v1/graph?view=label:tier')).body;
  conforms('Graph', tiers);
  assert.ok(tiers.edges.some((e: any) => e.source === 'label:tier=web' && e.target === 'label:tier=backend'), JSON.stringify(tiers.edges.map((e: any) => e.id)));
  const zones = (await hub.get('/api/v1/graph?view=zone')).body;
  assert.deepEqual(zones.edges.filter((e: any) => e.port === 8080).map((e: any) => `${e.source}>${e.target}`).sort(), ['zone:zone-1>zone:zone-1', 'zone:zone-1>zone:zone-2']);
  const filtered = (await hub.get('/api/v1/graph?view=pod&filter=node=node-c')).body;
  assert.deepEqual(filtered.edges.map((e: any) => e.target), ['pod:shop/payments-2']);
});

test('neighbourhood: the node and what is within N hops either way', async () => {
  const one = (await hub.get('/api/v1/neighbourhood?node=pod:shop/payments-1&hops=1')).body;
  conforms('Neighbourhood', one);
  assert.deepEqual(one.nodes.map((n: any) => n.id).sort(), ['pod:shop/checkout-1', 'pod:shop/payments-1']);
  const two = (await hub.get('/api/v1/neighbourhood?node=pod:shop/payments-1&hops=2')).body;
  assert.deepEqual(two.nodes.map((n: any) => n.id).sort(), ['external:example.com', 'pod:shop/checkout-1', 'pod:shop/payments-1', 'pod:shop/payments-2']);
  assert.equal(two.distance['pod:shop/payments-2'], 2);
  const zero = (await hub.get('/api/v1/neighbourhood?node=pod:shop/payments-1&hops=0')).body;
  assert.deepEqual(zero.nodes, []);
  assert.deepEqual(zero.distance, { 'pod:shop/payments-1': 0 });
});

test('search finds by name, address and label value, best first', async () => {
  const byName = (await hub.get('/api/v1/search?q=payments')).body;
  conforms('SearchResult', byName);
  assert.equal(byName.results[0].id, 'workload:shop/payments');
  const byAddr = (await hub.get('/api/v1/search?q=10.3.0.1')).body;
  assert.equal(byAddr.results[0].match.field, 'address');
  assert.match(byAddr.results[0].id, /payments-2/);
  const byLabel = (await hub.get('/api/v1/search?q=backend')).body;
  assert.ok(byLabel.results.length > 0 && byLabel.results.every((r: any) => r.match.field === 'label'));
  assert.equal((await hub.get('/api/v1/search?q=example.com')).body.results[0].id, 'external:example.com');
});

test('breakdown: the failing, slow pod on node-c is the top line', async () => {
  const id = encodeURIComponent('workload|workload:shop/checkout|workload:shop/payments|8080');
  for (const by of ['node', 'pod', 'zone']) {
    const { status, body } = await hub.get(`/api/v1/breakdown?edge=${id}&by=${by}`);
    assert.equal(status, 200, JSON.stringify(body));
    conforms('Breakdown', body);
    const top = body.parts[0];
    assert.equal(top.side, 'server');
    assert.equal(top.value, { node: 'node-c', pod: 'payments-2', zone: 'zone-2' }[by]);
    assert.equal(top.failure_share, 1);
    assert.equal(top.traffic_share, 0.5);
  }
  const versions = (await hub.get(`/api/v1/breakdown?edge=${id}&by=version`)).body;
  assert.deepEqual(
    versions.parts.map((p: any) => `${p.side}:${p.value}:${p.traffic_share}`).sort(),
    ['client:v2:1', 'server:v1:1'],
    'one version on each side carries everything: nothing to single out',
  );
});

test('diff: against the baseline, payments-2 appeared and the payments edge changed', async () => {
  const { status, body } = await hub.get('/api/v1/diff?view=pod&from=-5m&baseline_from=-31m&baseline_to=-19m');
  assert.equal(status, 200, JSON.stringify(body));
  conforms('Diff', body);
  assert.deepEqual(body.appeared.map((e: any) => e.target), ['pod:shop/payments-2']);
  assert.deepEqual(body.vanished, []);
  const wl = (await hub.get('/api/v1/diff?view=workload&from=-5m&baseline_from=-31m&baseline_to=-19m')).body;
  const changed = wl.changed[0];
  assert.equal(changed.edge.target, 'workload:shop/payments');
  assert.ok(changed.changes.failure_ratio.after > 0.1 && changed.changes.failure_ratio.before === 0);
});

test('history: an edge per step and a node', async () => {
  const id = encodeURIComponent('pod|pod:shop/checkout-1|pod:shop/payments-1|8080');
  const { status, body } = await hub.get(`/api/v1/history?edge=${id}&metric=connections,rtt_p99_seconds&step=1m&from=-35m`);
  assert.equal(status, 200, JSON.stringify(body));
  conforms('History', body);
  assert.equal(body.times.length, 35);
  assert.equal(body.series.connections.reduce((s: number, v: number) => s + v, 0), (60 + 23) * 10, 'every interval once');
  const node = (await hub.get('/api/v1/history?node=pod:shop/payments-2&metric=failures&from=-10m&step=5m')).body;
  assert.equal(node.series.failures.reduce((s: number, v: number) => s + v, 0), 23 * 5);
});

test('bad requests get 400 naming the parameter', async () => {
  const cases: Array<[string, string]> = [
    ['/api/v1/graph?view=planet', 'view'],
    ['/api/v1/graph?from=yesterday', 'from'],
    ['/api/v1/graph?from=-48h', 'from'],
    ['/api/v1/graph?from=-1m&to=-5m', 'from'],
    ['/api/v1/graph?filter=colour', 'filter'],
    ['/api/v1/neighbourhood?node=pod:nowhere/nothing', 'node'],
    ['/api/v1/neighbourhood', 'node'],
    ['/api/v1/neighbourhood?node=pod:shop/payments-1&hops=x', 'hops'],
    ['/api/v1/search', 'q'],
    ['/api/v1/breakdown?edge=nope&by=node', 'edge'],
    ['/api/v1/breakdown?edge=workload|a|b|1&by=node', 'edge'],
    ['/api/v1/breakdown?edge=workload|a|b|1&by=colour', 'by'],
    ['/api/v1/diff?from=-5m', 'baseline_from'],
    ['/api/v1/history?metric=connections', 'edge'],
    ['/api/v1/history?node=pod:shop/payments-1&metric=happiness', 'metric'],
    ['/api/v1/history?node=pod:shop/payments-1&step=1ms&from=-1h', 'step'],
  ];
  for (const [path, field] of cases) {
    const { status, body } = await hub.get(path);
    assert.equal(status, 400, `${path}: ${JSON.stringify(body)}`);
    conforms('Error', body);
    assert.equal(body.field, field, `${path}: ${body.error}`);
    assert.ok(body.error.startsWith(`${field}:`), body.error);
  }
  assert.equal((await hub.get('/api/v1/nothing')).status, 404);
});

test('malformed, oversized and foreign ingest bodies are refused, counted, and change nothing', async () => {
  const before = (await hub.get('/api/v1/graph?view=pod')).body;
  const garbage = await hub.post(undefined, { raw: Buffer.from('{"v":1,"kind":"batch",'), headers: { 'content-encoding': 'identity' } });
  assert.equal(garbage.status, 400);
  assert.match(garbage.body.error, /not JSON/);
  const badField = interval(999, now - 5000, true)[0]!;
  (badField.tcp[0] as any).port = 70000;
  const r = await hub.post(badField);
  assert.equal(r.status, 400);
  assert.equal(r.body.field, 'tcp[0].port');
  const wrongVersion = await hub.post({ ...interval(998, now - 5000, true)[0]!, v: 2 });
  assert.equal(wrongVersion.status, 400);
  assert.equal(wrongVersion.body.field, 'v');
  const backwards = await hub.post({ ...interval(997, now - 5000, true)[0]!, from: new Date(now).toISOString(), to: new Date(now - 1000).toISOString() });
  assert.equal(backwards.status, 400);
  assert.equal(backwards.body.field, 'from');
  const notGzip = await hub.post(undefined, { raw: Buffer.from('plain text'), headers: { 'content-encoding': 'gzip' } });
  assert.equal(notGzip.status, 400);
  const huge = await fetch(`${hub.url}/api/v1/ingest`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: Buffer.alloc(17 << 20, 0x20) });
  assert.equal(huge.status, 413);
  await hub.settle();
  const afterwards = (await hub.get('/api/v1/graph?view=pod')).body;
  assert.deepEqual(afterwards.edges, before.edges);
  const metrics = (await hub.get('/metrics')).text;
  assert.match(metrics, /flowscope_hub_ingest_rejected_total\{reason="malformed"\} 5/);
  assert.match(metrics, /flowscope_hub_ingest_rejected_total\{reason="too_large"\} 1/);
});

test('a batch of a run the hub does not know gets 409 until its hello', async () => {
  const stranger: AgentRun = { agent: 'node-x', node: 'node-x', zone: 'z', start: new Date(now - MIN).toISOString() };
  const m = batch(stranger, 1, now - 20_000, now - 10_000, []);
  const r = await hub.post(m);
  assert.equal(r.status, 409);
  conforms('UnknownRuns', r.body);
  assert.deepEqual(r.body.unknown_runs, [{ agent: 'node-x', start: stranger.start }]);
  const ok = await hub.post([hello(stranger), m]);
  assert.equal(ok.status, 200);
  assert.equal(ok.body.applied, 1);
  const status = (await hub.get('/api/v1/status')).body;
  conforms('Status', status);
  assert.ok(status.agents.some((x: any) => x.agent === 'node-x'));
});

test('the stream pushes each interval\'s edges in the asked view', async () => {
  const ctl = new AbortController();
  const res = await fetch(`${hub.url}/api/v1/stream?view=workload`, { signal: ctl.signal });
  assert.equal(res.headers.get('content-type'), 'text/event-stream; charset=utf-8');
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  const readUntil = async (needle: string): Promise<void> => {
    const deadline = Date.now() + 10_000;
    while (!text.includes(needle) && Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value);
    }
  };
  await readUntil('event: hello');
  const t = Date.now();
  await hub.post(interval(5000, t, true));
  await hub.settle();
  await readUntil('event: interval');
  ctl.abort();
  const data = text.split('event: interval\ndata: ')[1]!.split('\n')[0]!;
  const event = JSON.parse(data);
  conforms('Graph', event);
  const edge = event.edges.find((e: any) => e.target === 'workload:shop/payments');
  assert.equal(edge.connections, 20);
  assert.deepEqual(edge.sides, ['client', 'server']);
});

test('without a UI build, / names the API', async () => {
  const root = await hub.get('/');
  assert.equal(root.status, 200);
  assert.match(root.text, /\/api\/v1\/graph/);
  assert.equal(root.headers.get('x-content-type-options'), 'nosniff');
});

test('with a token, every API request without it gets 401', async () => {
  const secured = await startTestHub({ token: 's3cret-token' });
  try {
    for (const path of ['/api/v1/graph', '/api/v1/status', '/metrics', '/api/openapi.json']) {
      assert.equal((await secured.get(path)).status, 401, path);
      assert.equal((await secured.get(path, 'wrong')).status, 401, path);
      assert.equal((await secured.get(path, 's3cret-token')).status, 200, path);
    }
    assert.equal((await secured.post(hello(a))).status, 401);
    assert.equal((await secured.post(hello(a), { token: 's3cret-token' })).status, 200);
    assert.equal((await secured.get('/healthz')).status, 200);
  } finally {
    await secured.destroy();
  }
});
