// DNS alerts from real queries: a dnsmasq resolver in a namespace, a client asking it ten times a
// second, the agent there (packet part on: DNS comes from the classifier) sending to a hub. The
// resolver stopped: its queries go unanswered (TIMEOUT), one FlowscopeDnsErrors alert names the
// server; the resolver back: it resolves.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAlertsConfig } from '../../src/hub/alerts/config/load.js';
import { startAgent, type RunningAgent } from '../support/agent.js';
import { commandExists, sleep, waitFor } from '../support/run.js';
import { createFlowLink, type FlowLink } from '../flows/support.js';
import { startTestHub, type TestHub } from '../hub/support.js';

const haveDnsmasq = commandExists('dnsmasq');
const TOKEN = 'dns-alerts-test-token-0123456789';
const dir = mkdtempSync(join(tmpdir(), 'fs-dnsal-'));
let link: FlowLink;
let hub: TestHub;
let agent: RunningAgent;
let dnsmasq: ChildProcess | undefined;
let client: ChildProcess | undefined;

function startDnsmasq(): ChildProcess {
  return spawn('ip', ['netns', 'exec', link.ns, 'dnsmasq', '-k', '--no-resolv', '--no-hosts', '--listen-address=127.0.0.1', '--bind-interfaces', '--port=53', '--local=/flowscope.test/', `--host-record=web.flowscope.test,${link.hostAddr}`, `--pid-file=${join(dir, 'dnsmasq.pid')}`, '--user=root', '--cache-size=0'], { stdio: 'ignore' });
}

async function stopDnsmasq(): Promise<void> {
  if (!dnsmasq || dnsmasq.exitCode !== null) return;
  const exited = new Promise((r) => dnsmasq!.once('exit', r));
  dnsmasq.kill('SIGTERM');
  await exited;
}

// Ten A queries a second, each with one try and a short timeout.
const CLIENT = `
const dns = require('dns'); const r = new dns.promises.Resolver({ timeout: 300, tries: 1 }); r.setServers(['127.0.0.1']);
setInterval(() => { r.resolve4('web.flowscope.test').catch(() => {}); }, 100);
`;

before(async () => {
  if (!haveDnsmasq) return;
  link = createFlowLink();
  dnsmasq = startDnsmasq();
  const config = parseAlertsConfig(
    `resolution: { short: 1s, long: 5s }
baseline: { window: 5s, every: 5s, min_points: 3 }
learning_window: 5s
rules:
  failures: { windows: [{ long: 60s, short: 10s, burn_rate: 14.4, severity: critical }] }
  dns: { min_requests: 10, for: 2s, resolve_after: 5s }
`,
    'dns.yaml',
    { externalUrl: 'http://hub' },
  );
  // The agent runs in the namespace: it reaches the hub on the root side of the veth.
  hub = await startTestHub({ listen: { host: link.hostAddr, port: 0 }, token: TOKEN, alerts: config });
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, TOKEN, { mode: 0o600 });
  agent = await startAgent(['--flow-interfaces', `^(lo|${link.peer})$`, '--hub', hub.url, '--hub-token-file', tokenFile, '--node-name', 'dns-node'], 'agent', { netns: link.ns, host: link.peerAddr });
  client = spawn('ip', ['netns', 'exec', link.ns, process.execPath, '-e', CLIENT], { stdio: 'ignore' });
});

after(async () => {
  client?.kill('SIGKILL');
  await stopDnsmasq();
  await agent?.stop();
  await hub?.destroy();
  link?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

interface Alert {
  id: string;
  name: string;
  state: string;
  labels: Record<string, string>;
  signals: Array<{ signal: string; text: string }>;
}

// DNS alerts only: the namespace has other traffic of its own (the agent's, the harness's).
const alerts = async (): Promise<Alert[]> => (await hub.get('/api/v1/alerts?state=all&since=-1h&family=dns', TOKEN)).body.alerts;

test('a resolver that stops answering raises one DNS alert naming the server, which resolves once it answers again', { skip: !haveDnsmasq && 'dnsmasq is not installed', timeout: 180_000 }, async () => {
  // Healthy first: the client's requests reach the hub, nothing is raised.
  await waitFor(async () => (await hub.get('/api/v1/alerts/status', TOKEN)).body.dns >= 1, 30_000, 'DNS requests at the hub', 500);
  await sleep(8000);
  assert.deepEqual(await alerts(), []);
  await stopDnsmasq();
  const raised = (await waitFor(async () => {
    const a = await alerts();
    return a.length ? a : undefined;
  }, 60_000, 'the DNS alert', 500))!;
  await sleep(4000);
  const all = await alerts();
  assert.equal(all.length, 1, all.map((a) => `${a.name} ${JSON.stringify(a.labels)}`).join('; '));
  const a = raised[0]!;
  assert.equal(a.name, 'FlowscopeDnsErrors');
  assert.equal(a.labels.server, '127.0.0.1');
  assert.deepEqual(a.signals.map((s) => s.signal), ['timeout']);
  assert.equal(a.labels.client, 'dns-node', 'a client without a workload is named by its node');
  assert.match(a.signals[0]!.text, /of \d+ requests from dns-node to 127\.0\.0\.1 got no answer in the last 5s \(alerting above 5%\)/);
  dnsmasq = startDnsmasq();
  await waitFor(async () => (await alerts()).find((x) => x.id === a.id && x.state === 'resolved'), 60_000, 'the DNS alert to resolve', 1000);
  assert.equal((await alerts()).length, 1);
});
