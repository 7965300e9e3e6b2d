// The alerting API of a hub fed agents' batches: alerts and their marks on graph edges, an edge's
// baseline, silences and mutes (created, listed, expired; bad ones refused naming the field),
// every answer checked against the OpenAPI document; the hub's /metrics with alerting passes
// promtool check metrics; the token guards these paths as it does the rest.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { wire } from '../../src/model/index.js';
import { CONNECT_BUCKETS, RTT_BUCKETS } from '../../src/model/distribution.js';
import { parseAlertsConfig } from '../../src/hub/alerts/config/load.js';
import { batch, hello, tcp, type AgentRun } from '../hub/batches.js';
import { startTestHub, type TestHub } from '../hub/support.js';
import { commandExists, runCommand, waitFor } from '../support/run.js';

const TOKEN = 'alerts-api-test-token-0123456789';
const now = Date.now();
const start = new Date(now - 120_000).toISOString();
const a: AgentRun = { agent: 'node-a', node: 'node-a', zone: 'z1', start };
const b: AgentRun = { agent: 'node-b', node: 'node-b', zone: 'z1', start };
const c: AgentRun = { agent: 'node-c', node: 'node-c', zone: 'z2', start };
const checkout: wire.WorkloadV1 = { pod: 'checkout-1', namespace: 'shop', workload: 'checkout', version: 'v2' };
const p1: wire.WorkloadV1 = { pod: 'payments-1', namespace: 'shop', workload: 'payments', version: 'v1' };
const p2: wire.WorkloadV1 = { ...p1, pod: 'payments-2' };
const EDGE = 'workload|workload:shop/checkout|workload:shop/payments|8080';

const hist = (layout: readonly number[], i: number, n: number, v: number): wire.HistogramV1 => ({ counts: layout.map((_, j) => (j === i ? n : 0)), sum: n * v, count: n });

function second(seq: number, t: number): wire.BatchV1[] {
  const ok = { opened: 10, closed: 10, bytes_sent: 1000, bytes_received: 5000, connect: hist(CONNECT_BUCKETS, 3, 10, 0.0008), rtt: hist(RTT_BUCKETS, 2, 10, 0.0002) };
  return [
    batch(a, seq, t - 1000, t, [
      tcp({ role: 'client', process: 'checkout', peer: '10.2.0.1', port: 8080, local: checkout, local_addrs: ['10.1.0.1'], ...ok }),
      tcp({ role: 'client', process: 'checkout', peer: '10.3.0.1', port: 8080, local: checkout, local_addrs: ['10.1.0.1'], ...ok, opened: 5, closed: 5, failures: { refused: 5 } }),
    ]),
    batch(b, seq, t - 1000, t, [tcp({ role: 'server', process: 'payments', peer: '10.1.0.1', port: 8080, local: p1, local_addrs: ['10.2.0.1'], opened: 10, closed: 10 })]),
    batch(c, seq, t - 1000, t, [tcp({ role: 'server', process: 'payments', peer: '10.1.0.1', port: 8080, local: p2, local_addrs: ['10.3.0.1'], opened: 5, closed: 5 })]),
  ];
}

let hub: TestHub;
let schemas: Ajv2020;

function conforms(schema: string, body: unknown): void {
  const validate = schemas.getSchema(`https://flowscope.dev/openapi.json#/components/schemas/${schema}`);
  assert.ok(validate, `schema ${schema} exists`);
  assert.ok(validate(body), `answer matches ${schema}: ${JSON.stringify(validate.errors?.slice(0, 3))}`);
}

const get = (path: string) => hub.get(path, TOKEN);
async function send(method: string, path: string, body?: unknown, token = TOKEN): Promise<{ status: number; body: any }> {
  const r = await fetch(`${hub.url}${path}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : undefined };
}

before(async () => {
  const config = parseAlertsConfig(
    `resolution: { short: 1s, long: 5s }
baseline: { window: 10s, every: 5s, min_points: 2 }
rules:
  failures: { min_attempts: 10, min_failures: 3, windows: [{ long: 60s, short: 10s, burn_rate: 14.4, severity: critical }] }
`,
    'api.yaml',
    { externalUrl: 'http://hub.example:4040' },
  );
  hub = await startTestHub({ alerts: config, token: TOKEN });
  assert.equal((await hub.post([hello(a), hello(b), hello(c)], { token: TOKEN })).status, 200);
  const messages: wire.BatchV1[] = [];
  let seq = 0;
  for (let t = now - 20_000; t <= now; t += 1000) messages.push(...second(++seq, t));
  assert.equal((await hub.post(messages, { token: TOKEN })).status, 200);
  await hub.settle();
  const doc = (await get('/api/openapi.json')).body;
  schemas = new Ajv2020({ strict: false, allErrors: true });
  schemas.addSchema({ ...doc, $id: 'https://flowscope.dev/openapi.json' });
  await waitFor(async () => (await get('/api/v1/alerts')).body.alerts.length > 0, 15_000, 'the alert');
});

after(async () => {
  await hub?.destroy();
});

test('GET /api/v1/alerts: the refused connections of payments-2 are one explained alert on the workload edge', async () => {
  const r = await get('/api/v1/alerts');
  assert.equal(r.status, 200);
  conforms('AlertList', r.body);
  assert.equal(r.body.alerts.length, 1);
  const alert = r.body.alerts[0];
  assert.equal(alert.name, 'FlowscopeConnectionFailures');
  assert.equal(alert.edge.id, EDGE);
  assert.match(alert.url, /^http:\/\/hub\.example:4040\/\?view=workload&sel=/);
  const explained = (await waitFor(async () => (await get('/api/v1/alerts')).body.alerts.find((x: { explanation: unknown }) => x.explanation), 15_000, 'the explanation'))!;
  conforms('Alert', explained);
  // payments-2 is the only pod of node-c (and of zone z2): they name the same group.
  assert.equal(explained.explanation.sentence, '100% of refused connections from checkout to payments:8080 land on payments pod payments-2 on node-c, which receives 50% of the traffic');
  assert.deepEqual([explained.explanation.breakdown.parts[0].side, explained.explanation.breakdown.parts[0].value], ['server', 'payments-2']);
  assert.deepEqual((await get('/api/v1/alerts?family=dns')).body.alerts, []);
  assert.equal((await get('/api/v1/alerts?state=resolved')).body.alerts.length, 0);
  assert.equal((await get(`/api/v1/alerts?edge=${encodeURIComponent(EDGE)}`)).body.alerts.length, 1);
});

test('graph edges carry the marks of their alerts, in the alerting view and in others', async () => {
  for (const view of ['workload', 'pod', 'node']) {
    const g = (await get(`/api/v1/graph?view=${view}&from=-5m`)).body;
    conforms('Graph', g);
    const marked = g.edges.filter((e: { alerts?: unknown[] }) => e.alerts);
    assert.ok(marked.length >= 1, `${view}: a marked edge`);
    assert.equal(marked[0].alerts[0].name, 'FlowscopeConnectionFailures');
  }
  const pods = (await get('/api/v1/graph?view=pod&from=-5m')).body;
  assert.ok(pods.edges.every((e: { target: string; alerts?: unknown[] }) => Boolean(e.alerts) === (e.target === 'pod:shop/payments-1' || e.target === 'pod:shop/payments-2')));
});

test("GET /api/v1/alerts/baseline: an edge's history and its failures against the objective", async () => {
  const r = await get(`/api/v1/alerts/baseline?edge=${encodeURIComponent(EDGE)}`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  conforms('EdgeBaseline', r.body);
  assert.equal(r.body.failures.signal, 'failures');
  assert.ok(r.body.failures.now > 0.2, r.body.failures.text);
  assert.deepEqual((await get('/api/v1/alerts/baseline')).body, { error: 'edge: is required: the id of an edge in the workload view (from /api/v1/graph?view=workload or an alert)', field: 'edge' });
  assert.equal((await get('/api/v1/alerts/baseline?edge=nope')).status, 404);
});

test('silences: created, applied to matching alerts, listed, expired; bad ones refused naming the field', async () => {
  const created = await send('POST', '/api/v1/silences', { matchers: ['target=payments', { name: 'severity', op: '=~', value: 'crit.*' }], duration: '2h', comment: 'deploying', created_by: 'sre' });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  conforms('Silence', created.body);
  const id = created.body.id;
  const silenced = (await get('/api/v1/alerts')).body.alerts[0];
  assert.deepEqual(silenced.silenced_by, [id]);
  const list = (await get('/api/v1/silences')).body;
  conforms('SilenceList', list);
  assert.equal(list.active, 1);
  const bad = [
    [{ matchers: [], duration: '1h' }, 'matchers'],
    [{ matchers: ['target'], duration: '1h' }, 'matchers[0]'],
    [{ matchers: ['target=~(['], duration: '1h' }, 'matchers[0]'],
    [{ matchers: ['target=x'] }, 'ends_at'],
    [{ matchers: ['target=x'], duration: 'soon' }, 'duration'],
    [{ matchers: ['target=x'], ends_at: new Date(Date.now() - 1000).toISOString() }, 'ends_at'],
    [{ matchers: ['target=x'], duration: '200d' }, 'duration'],
    [{ matchers: ['target=x'], duration: '1h', kind: 'forever' }, 'kind'],
  ] as const;
  for (const [body, field] of bad) {
    const r = await send('POST', '/api/v1/silences', body);
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.equal(r.body.field, field, `${JSON.stringify(body)}: ${r.body.error}`);
    conforms('Error', r.body);
  }
  assert.equal((await send('POST', '/api/v1/silences', '{not json')).status, 400);
  const expired = await send('DELETE', `/api/v1/silences/${id}`);
  assert.equal(expired.status, 200);
  assert.ok(Date.parse(expired.body.ends_at) <= Date.now());
  assert.deepEqual((await get('/api/v1/alerts')).body.alerts[0].silenced_by, []);
  assert.equal((await send('DELETE', '/api/v1/silences/unknown')).status, 404);
  assert.equal((await send('PUT', '/api/v1/alerts')).status, 405);
  assert.equal((await send('POST', '/api/v1/silences', { matchers: ['a=b'], duration: '1h' }, 'wrong-token-wrong-token')).status, 401);
});

test("the hub's /metrics with alerting on passes promtool check metrics", async (t) => {
  if (!commandExists('promtool')) return t.skip('promtool (Debian prometheus) is not installed');
  const r = await get('/metrics');
  assert.match(r.text, /flowscope_hub_alerts_active\{family="edge",severity="critical"\} 1/);
  assert.match(r.text, /flowscope_hub_alert_evaluation_duration_seconds_count \d+/);
  const check = await runCommand('promtool', ['check', 'metrics'], { input: r.text, timeoutMs: 20_000 });
  assert.equal(check.code, 0, `${check.stdout}${check.stderr}`);
});
