// Alerts from real faults. Three nodes, one agent each, one hub (`flowscope hub --alerts FILE`),
// Deployment checkout (node-a) calling Deployment payments (a pod on node-b, one on node-c)
// through a load generator that counts what it saw. Faults are made on node-c's pod only: its
// server stopped (refused connections), delay and then loss on node-c's link (tc netem, or a
// tun forwarder where the kernel has no netem), an iptables DROP of its port. Each fault raises
// exactly one alert on the workload edge checkout -> payments:8080, whose explanation has node-c's
// pod on top, and one resolve once the fault is gone. The hub is restarted in the middle of one
// incident: it neither raises it again nor forgets the edge's baseline. A new client after the
// learning window raises one new-dependency alert. Alerts reach an Alertmanager (Debian's) and, through
// its own routing, its webhook receiver; a generic webhook, Slack and PagerDuty receivers
// (local, answering as the real ones do) get bodies checked field by field against their formats.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sleep, waitFor } from '../support/run.js';
import { Cluster, type HubProc, type Load, type Pod, type Proc } from './cluster.js';
import { CaptureServer, checkPagerDuty, checkSlack, checkWebhookV4 } from './receivers.js';
import { startAlertmanager, alertmanagerPresent, type RunningAlertmanager } from './alertmanager.js';

const EDGE = 'workload|workload:shop/checkout|workload:shop/payments|8080';
const PD_KEY = 'fsalerts0123456789abcdefghijklmn';
const SLACK_SECRET = `T0FLOW/B0SCOPE/${crypto.randomUUID().replace(/-/g, '')}`;
const WEBHOOK_SECRET = crypto.randomUUID();

let cluster: Cluster;
let hub: HubProc;
let hubLogs = '';
let load: Load;
let receivers: CaptureServer;
let am: RunningAlertmanager | undefined;
let checkout: Pod;
let payments2: Pod;
let server2: Proc;
let alertsFile: string;
let fraud: Pod;

interface Alert {
  id: string;
  name: string;
  family: string;
  state: string;
  severity: string;
  starts_at: string;
  ends_at: string | null;
  labels: Record<string, string>;
  edge: { id: string } | null;
  signals: Array<{ signal: string; now: number | null; baseline: { median: number; upper: number } | null; text: string }>;
  explanation: { sentence: string; domain: string | null; side: string | null; value: string | null; breakdown: { by: string; parts: Array<{ side: string; value: string; signal_share: number }> } | null } | null;
}

async function alerts(query = 'state=all&since=-1h'): Promise<Alert[]> {
  const r = await hub.get(`/api/v1/alerts?${query}`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.alerts;
}

/** Alerts raised since a time. */
async function raisedSince(t: number): Promise<Alert[]> {
  return (await alerts()).filter((a) => Date.parse(a.starts_at) >= t);
}

const CONFIG = (am: string | undefined) => `
# Windows shortened through configuration (production defaults are minutes and hours).
evaluation_interval: 1s
view: workload
resolution: { short: 1s, long: 5s }
baseline: { window: 6s, every: 3s, points: 40, min_points: 5 }
learning_window: 25s
save_interval: 5s
rules:
  failures:
    min_attempts: 20
    min_failures: 5
    resolve_after: 6s
    windows:
      - { long: 60s, short: 10s, burn_rate: 14.4, severity: critical }
  rtt: { for: 3s, resolve_after: 8s }
  connect: { for: 3s, resolve_after: 8s }
  retransmits: { for: 3s, resolve_after: 8s, min_traffic: 100 }
  resets: { for: 3s, resolve_after: 8s }
  new_dependency: { hold: 1h, settle: 4s }
receivers:
  - name: webhook
    group_wait: 1s
    group_interval: 2s
    webhook: { url_file: webhook-url }
  - name: slack
    group_wait: 1s
    group_interval: 2s
    slack: { webhook_url_file: slack-url }
  - name: pagerduty
    group_wait: 1s
    group_interval: 2s
    match: { severity: critical }
    pagerduty: { routing_key_file: pd-key, url: "${receivers.url}/v2/enqueue" }
${am ? `  - name: alertmanager\n    alertmanager: { url: "${am}", resend_interval: 5s }\n` : ''}`;

function secret(name: string, text: string): void {
  writeFileSync(join(cluster.dir, name), `${text}\n`, { mode: 0o600 });
}

async function startHub(): Promise<void> {
  hub = await cluster.startHub(alertsFile, hub ? { port: hub.port, dataDir: hub.dataDir } : {});
  const p = hub.proc;
  p.stdout?.on('data', (d: Buffer) => (hubLogs += d.toString()));
  p.stderr?.on('data', (d: Buffer) => (hubLogs += d.toString()));
}

before(async () => {
  cluster = new Cluster();
  await cluster.linkNodeC();
  // Which way delay and loss are made on this kernel (netem, or the tun forwarder without it).
  console.log(`# node-c's link: ${cluster.linkMechanism}`);
  await cluster.startApi(['checkout', 'payments', 'fraud']);
  receivers = new CaptureServer();
  await receivers.start();
  if (alertmanagerPresent) am = await startAlertmanager(`${receivers.url}/am`);
  secret('webhook-url', `${receivers.url}/webhook/${WEBHOOK_SECRET}`);
  secret('slack-url', `${receivers.url}/slack/${SLACK_SECRET}`);
  secret('pd-key', PD_KEY);
  alertsFile = join(cluster.dir, 'alerts.yaml');
  writeFileSync(alertsFile, CONFIG(am?.url));
  const [a, b, c] = cluster.nodes as [typeof cluster.nodes[0], typeof cluster.nodes[0], typeof cluster.nodes[0]];
  checkout = cluster.pod('checkout', a, 'a1', 'v2');
  const payments1 = cluster.pod('payments', b, 'b1');
  payments2 = cluster.pod('payments', c, 'c1');
  // Deployed now, calling payments only after the learning window.
  fraud = cluster.pod('fraud', a, 'a2');
  await cluster.server(payments1, 8080);
  server2 = await cluster.server(payments2, 8080);
  await startHub();
  await cluster.startAgents(hub.url);
  load = cluster.load(checkout, [`${b.addr}:8080`, `${c.addr}:8080`], { per: 2, pauseS: 0.05, timeoutS: 2 });
  // Learning: the edge is learned and its history holds enough points for a band.
  await waitFor(
    async () => {
      const s = (await hub.get('/api/v1/alerts/status')).body;
      const b = await hub.get(`/api/v1/alerts/baseline?edge=${encodeURIComponent(EDGE)}`);
      return s.learning_until && Date.parse(s.learning_until) < Date.now() && b.status === 200 && b.body.metrics.rtt.points.length >= 5 && b.body.metrics.connect.points.length >= 5;
    },
    90_000,
    'the learning window to pass and the edge to have a baseline',
    1000,
  );
  assert.deepEqual(await raisedSince(0), [], 'healthy traffic raised nothing');
});

after(async () => {
  try {
    await load?.stop();
    await cluster?.destroy();
  } finally {
    await am?.stop();
    await receivers?.stop();
  }
});

/** Waits for the one alert a fault raises, and checks it names the edge and node-c's pod. */
async function oneAlert(since: number, what: string, timeoutMs = 60_000): Promise<Alert> {
  const list = await waitFor(async () => {
    const l = await raisedSince(since);
    return l.length ? l : undefined;
  }, timeoutMs, `an alert for ${what}`, 500);
  // A little longer: a storm would show now.
  await sleep(4000);
  const all = await raisedSince(since);
  assert.equal(all.length, 1, `exactly one alert for ${what}: ${all.map((a) => `${a.name} ${a.edge?.id}`).join('; ')}`);
  const a = all[0]!;
  assert.equal(a.edge?.id, EDGE);
  assert.equal(a.labels.source, 'checkout');
  assert.equal(a.labels.target, 'payments');
  return a;
}

/** The explanation, once computed: node-c's payments pod is the top line of its breakdown. */
async function explainedOnPayments2(id: string): Promise<Alert> {
  const a = (await waitFor(async () => (await alerts()).find((x) => x.id === id && x.explanation), 20_000, 'an explanation', 500))!;
  const top = a.explanation!.breakdown!.parts[0]!;
  assert.equal(top.side, 'server', a.explanation!.sentence);
  assert.ok([payments2.name, 'node-c'].includes(top.value), `top line ${top.value}: ${a.explanation!.sentence}`);
  assert.match(a.explanation!.sentence, new RegExp(`from checkout to payments:8080 land on payments (pod ${payments2.name} )?on node-c, which receives \\d+% of the traffic`));
  return a;
}

async function resolved(id: string, what: string): Promise<Alert> {
  return (await waitFor(async () => (await alerts()).find((x) => x.id === id && x.state === 'resolved'), 90_000, `${what} to resolve`, 1000))!;
}

test('connections to a closed port: one failure alert, node-c\'s pod on top, resolved once the server is back', async () => {
  const t0 = Date.now();
  await server2.stop();
  const a = await oneAlert(t0, 'refused connections');
  assert.equal(a.name, 'FlowscopeConnectionFailures');
  assert.equal(a.severity, 'critical');
  const e = await explainedOnPayments2(a.id);
  assert.match(e.explanation!.sentence, /of refused connections/);
  assert.ok(load.counts()[`${payments2.node.addr}:8080`]!.refused > 0, 'the generator saw refusals');
  server2 = await cluster.server(payments2, 8080);
  const r = await resolved(a.id, 'the failure alert');
  assert.ok(r.ends_at);
  assert.equal((await raisedSince(t0)).length, 1, 'recovery raised nothing new');
});

test('deliveries: webhook, Slack and PagerDuty bodies match their formats; Alertmanager routes the alert to its webhook', async () => {
  const fired = (await alerts()).find((a) => a.name === 'FlowscopeConnectionFailures')!;
  await waitFor(() => receivers.at('/webhook/').some((r) => r.body.status === 'resolved'), 30_000, 'the resolve at the webhook', 500);
  const hooks = receivers.at('/webhook/');
  assert.equal(hooks[0]!.path, `/webhook/${WEBHOOK_SECRET}`);
  for (const h of hooks) checkWebhookV4(h.body);
  const mine = hooks.filter((h) => h.body.alerts.some((x: { fingerprint: string }) => x.fingerprint === fired.id));
  assert.deepEqual(
    mine.map((h) => h.body.status),
    ['firing', 'resolved'],
    'one firing and one resolved notification, nothing repeated',
  );
  assert.equal(mine[0]!.body.groupLabels.alertname, 'FlowscopeConnectionFailures');
  assert.equal(mine[0]!.body.alerts[0].labels.edge, EDGE);
  assert.match(mine[0]!.body.alerts[0].annotations.description, /of refused connections from checkout to payments:8080 land on payments/);
  assert.match(mine[0]!.body.alerts[0].generatorURL, /\?view=workload&sel=workload%7C/);

  await waitFor(() => receivers.at('/slack/').length >= 2, 30_000, 'two Slack messages', 500);
  for (const s of receivers.at('/slack/')) checkSlack(s.body);
  assert.match(receivers.at('/slack/')[0]!.body.blocks[0].text.text, /^\[FIRING:1\] FlowscopeConnectionFailures/);

  await waitFor(() => receivers.at('/v2/enqueue').some((r) => r.body.event_action === 'resolve'), 30_000, 'the PagerDuty resolve', 500);
  const pd = receivers.at('/v2/enqueue');
  for (const p of pd) checkPagerDuty(p.body, PD_KEY);
  const trigger = pd.find((p) => p.body.event_action === 'trigger')!;
  assert.equal(trigger.body.payload.severity, 'critical');
  assert.equal(trigger.body.payload.class, 'FlowscopeConnectionFailures');
  assert.equal(pd.find((p) => p.body.event_action === 'resolve')!.body.dedup_key, trigger.body.dedup_key, 'resolve names the incident trigger opened');

  if (!am) return;
  // Through Alertmanager's own routing: its webhook receiver gets the alert, then its resolve.
  await waitFor(() => receivers.at('/am').some((r) => r.body.status === 'resolved' && r.body.alerts.some((x: any) => x.labels.edge === EDGE)), 60_000, "Alertmanager's resolve", 500);
  const amHooks = receivers.at('/am').filter((r) => r.body.alerts.some((x: any) => x.labels.alertname === 'FlowscopeConnectionFailures'));
  const firing = amHooks.find((r) => r.body.status === 'firing')!;
  assert.ok(firing, 'Alertmanager delivered the firing alert');
  assert.equal(firing.body.receiver, 'hook');
  assert.equal(firing.body.alerts[0].labels.edge, EDGE);
  assert.equal(firing.body.alerts[0].labels.severity, 'critical');
  assert.match(firing.body.alerts[0].annotations.description, /land on payments/);
  // Our webhook body has the fields Alertmanager's own has, of the same types.
  checkWebhookV4(firing.body);
});

test("delay on node-c's link: one latency alert with the numbers against the edge's band; a hub restart in the middle neither raises it again nor forgets the baseline", async () => {
  const t0 = Date.now();
  await cluster.impairNodeC(60, 0);
  try {
    const a = await oneAlert(t0, 'the delay');
    assert.ok(['FlowscopeRttAnomaly', 'FlowscopeConnectTimeAnomaly'].includes(a.name), a.name);
    await explainedOnPayments2(a.id);
    const latency = a.signals.find((s) => s.signal === 'rtt' || s.signal === 'connect')!;
    assert.ok(latency.now! > latency.baseline!.upper && latency.now! > 5 * latency.baseline!.median, latency.text);
    assert.match(latency.text, /over the last 6s, against a usual .* \(median of \d+ points of its history; the band ends at/);

    // The restart: what the hub knew of the edge's normal, and what it had sent.
    const edgeBaseline = async () => (await hub.get(`/api/v1/alerts/baseline?edge=${encodeURIComponent(EDGE)}`)).body;
    const before = await edgeBaseline();
    const firings = () => receivers.at('/webhook/').filter((h) => h.body.status === 'firing' && h.body.alerts.some((x: { fingerprint: string }) => x.fingerprint === a.id)).length;
    await waitFor(() => firings() === 1, 20_000, 'the firing notification', 500);
    await hub.stop();
    await sleep(3000);
    await startHub();
    const after = await edgeBaseline();
    for (const m of ['rtt', 'connect', 'retransmits', 'resets']) {
      assert.deepEqual(after.metrics[m].points, before.metrics[m].points, `${m}: the same history after the restart (and no point learned from the incident)`);
      assert.equal(after.metrics[m].median, before.metrics[m].median);
    }
    const active = (await alerts('state=firing')).filter((x) => x.edge?.id === EDGE);
    assert.deepEqual(
      active.map((x) => [x.id, x.starts_at]),
      [[a.id, a.starts_at]],
      'the same alert, still firing, with the same start',
    );
    await sleep(8000);
    assert.equal((await raisedSince(t0)).length, 1, 'nothing raised again after the restart');
    assert.equal(firings(), 1, 'no second firing notification');

    await cluster.impairNodeC(0, 0);
    await resolved(a.id, 'the latency alert');
    await waitFor(() => receivers.at('/webhook/').some((h) => h.body.status === 'resolved' && h.body.alerts.some((x: { fingerprint: string }) => x.fingerprint === a.id)), 20_000, 'the resolve notification', 500);
    assert.equal((await raisedSince(t0)).length, 1);
    assert.ok(!hubLogs.includes(SLACK_SECRET) && !hubLogs.includes(WEBHOOK_SECRET) && !hubLogs.includes(PD_KEY), 'no secret in the hub logs');
  } finally {
    await cluster.impairNodeC(0, 0);
  }
});

test("loss on node-c's link: one alert on the edge, node-c's pod on top, resolved once the loss ends", async () => {
  const t0 = Date.now();
  await cluster.impairNodeC(0, 25);
  try {
    const a = await oneAlert(t0, 'the loss');
    await explainedOnPayments2(a.id);
    assert.ok(a.signals.some((s) => ['retransmits', 'connect', 'failures', 'rtt'].includes(s.signal)), a.signals.map((s) => s.text).join(' | '));
    await cluster.impairNodeC(0, 0);
    await resolved(a.id, 'the loss alert');
    assert.equal((await raisedSince(t0)).length, 1);
  } finally {
    await cluster.impairNodeC(0, 0);
  }
});

test("an iptables DROP of node-c's port: one failure alert, node-c's pod on top, resolved once the rule is gone", async () => {
  const t0 = Date.now();
  try {
    cluster.dropTcp(payments2.node, 8080);
    const a = await oneAlert(t0, 'dropped connections');
    await explainedOnPayments2(a.id);
    assert.ok(a.signals.some((s) => s.signal === 'failures'), a.signals.map((s) => s.text).join(' | '));
    assert.ok(load.counts()[`${payments2.node.addr}:8080`]!.timeout > 0, 'the generator saw timeouts');
    cluster.removeDrops();
    await resolved(a.id, 'the drop alert');
    assert.equal((await raisedSince(t0)).length, 1);
  } finally {
    cluster.removeDrops();
  }
});

test('a new client after the learning window raises one new-dependency alert', async () => {
  const t0 = Date.now();
  const l = cluster.load(fraud, [`${cluster.node('node-b').addr}:8080`], { per: 1, pauseS: 0.2 });
  try {
    const list = (await waitFor(async () => {
      const x = await raisedSince(t0);
      return x.length ? x : undefined;
    }, 60_000, 'the new-dependency alert', 500))!;
    await sleep(4000);
    const all = await raisedSince(t0);
    assert.equal(all.length, 1, all.map((x) => `${x.name} ${x.edge?.id}`).join('; '));
    assert.equal(list[0]!.name, 'FlowscopeNewDependency');
    assert.equal(all[0]!.edge?.id, 'workload|workload:shop/fraud|workload:shop/payments|8080');
    assert.equal(all[0]!.severity, 'info');
    assert.match(all[0]!.signals[0]!.text, /^first seen .*; not among the dependencies learned from/);
    // The graph marks the edge.
    const g = (await hub.get('/api/v1/graph?view=workload&from=-1m')).body;
    const edge = g.edges.find((x: { id: string }) => x.id === all[0]!.edge!.id);
    assert.deepEqual(edge?.alerts?.map((m: { name: string }) => m.name), ['FlowscopeNewDependency']);
  } finally {
    await l.stop();
  }
});
