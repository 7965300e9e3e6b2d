// `flowscope rules` for users without a hub: its output passes promtool check rules (defaults and a
// file with short windows), and Debian's Prometheus, scraping a real agent with those rules loaded,
// fires on failures made on purpose: connections to a closed port (the burn-rate alert on that
// edge) and a server that resets every connection (new resets).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { flowscopeBin } from '../support/paths.js';
import { freePort, startAgent, type RunningAgent } from '../support/agent.js';
import { uniqueName } from '../support/netns.js';
import { commandExists, runCommand, sh, waitFor } from '../support/run.js';

const dir = mkdtempSync(join(tmpdir(), 'fs-rules-'));
const ns = uniqueName('fsalr');
let agent: RunningAgent | undefined;
let prometheus: ChildProcess | undefined;
const children: ChildProcess[] = [];
const havePrometheus = commandExists('prometheus') && commandExists('promtool');

const SHORT = `
rules:
  failures:
    objective: 99%
    min_attempts: 5
    min_failures: 3
    windows:
      - { long: 30s, short: 10s, burn_rate: 14.4, severity: critical }
resolution: { short: 1s, long: 5s }
baseline: { window: 10s, every: 10s }
`;

async function rules(args: string[]): Promise<string> {
  const r = await runCommand(flowscopeBin, ['rules', ...args], { timeoutMs: 30_000 });
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

async function promtool(file: string): Promise<string> {
  const r = await runCommand('promtool', ['check', 'rules', file], { timeoutMs: 30_000 });
  assert.equal(r.code, 0, `promtool check rules: ${r.stdout}${r.stderr}`);
  return r.stdout;
}

before(() => {
  sh('ip', ['netns', 'add', ns]);
  sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
});

after(async () => {
  for (const c of [...children, prometheus]) if (c && c.exitCode === null) c.kill('SIGKILL');
  await agent?.stop();
  sh('ip', ['netns', 'del', ns], { allowFail: true });
  rmSync(dir, { recursive: true, force: true });
});

test('flowscope rules passes promtool check rules, with the defaults and with a file of its own', async (t) => {
  if (!havePrometheus) return t.skip('promtool (Debian prometheus) is not installed');
  const defaults = join(dir, 'defaults.yaml');
  writeFileSync(defaults, await rules([]));
  assert.match(await promtool(defaults), /SUCCESS: \d+ rules found/);
  const text = readFileSync(defaults, 'utf8');
  assert.match(text, /flowscope:tcp_connect_error_ratio:rate1h > 0\.0144\n\s+and flowscope:tcp_connect_error_ratio:rate5m > 0\.0144/, 'the 14.4x pair over 1h and 5m');
  assert.match(text, /rate6h > 0\.006\n\s+and flowscope:tcp_connect_error_ratio:rate15m > 0\.006/, 'the 6x pair over 6h and 15m');
  assert.match(text, /alert: FlowscopeNewResets/);
  assert.match(text, /alert: FlowscopeDnsErrors/);
  const config = join(dir, 'alerts.yaml');
  writeFileSync(config, SHORT);
  const out = join(dir, 'short.yaml');
  await rules(['--config', config, '-o', out, '--for', '2s']);
  await promtool(out);
  // A mistake in the file is refused with its line.
  writeFileSync(config, 'rules:\n  failures:\n    objective: 200%\n');
  const bad = await runCommand(flowscopeBin, ['rules', '--config', config], { timeoutMs: 30_000 });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /alerts\.yaml:3:16: rules\.failures\.objective: must be between 0% and 100%/);
});

/** A node server in the namespace: answers and closes, or resets every connection. */
function server(port: number, reset: boolean): ChildProcess {
  const code = reset
    ? `require('net').createServer(c=>{c.on('error',()=>{});c.resetAndDestroy()}).listen(${port},'127.0.0.1')`
    : `require('net').createServer(c=>{c.on('error',()=>{});c.end('ok')}).listen(${port},'127.0.0.1')`;
  const c = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', code], { stdio: 'ignore' });
  children.push(c);
  return c;
}

/** Connects to each port in turn, 10 times a second, until killed. */
function client(ports: number[]): ChildProcess {
  const code = `const net=require('net');const ports=${JSON.stringify(ports)};let i=0;setInterval(()=>{const c=net.connect(ports[i++%ports.length],'127.0.0.1');c.on('error',()=>{});c.on('data',()=>{});c.on('end',()=>c.destroy())},100)`;
  const c = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', code], { stdio: 'ignore' });
  children.push(c);
  return c;
}

interface PromAlert {
  labels: Record<string, string>;
  state: string;
}

test("Debian's Prometheus with these rules fires on connections to a closed port and on a server that resets", { timeout: 240_000 }, async (t) => {
  if (!havePrometheus) return t.skip('prometheus (Debian) is not installed');
  const config = join(dir, 'alerts.yaml');
  writeFileSync(config, SHORT);
  const rulesFile = join(dir, 'rules.yaml');
  await rules(['--config', config, '-o', rulesFile, '--for', '2s']);
  agent = await startAgent(['--netns', `/run/netns/${ns}`, '--no-flows', '--node-name', 'rules-node']);
  const okPort = 20000 + Math.floor(Math.random() * 10000);
  const [closedPort, resetPort] = [okPort + 1, okPort + 2];
  server(okPort, false);
  server(resetPort, true);
  await waitFor(() => sh('ip', ['netns', 'exec', ns, 'ss', '-Htln']).includes(`:${resetPort}`), 10_000, 'the servers');
  const promPort = await freePort();
  writeFileSync(
    join(dir, 'prometheus.yml'),
    `global: { scrape_interval: 1s, evaluation_interval: 1s }
rule_files: [${rulesFile}]
scrape_configs:
  - job_name: flowscope
    static_configs: [{ targets: ['${new URL(agent.url).host}'] }]
`,
  );
  prometheus = spawn('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${promPort}`, '--log.level=warn'], { stdio: 'ignore' });
  const prom = `http://127.0.0.1:${promPort}`;
  await waitFor(() => fetch(`${prom}/-/ready`).then((r) => r.status === 200, () => false), 30_000, 'prometheus');
  client([okPort, closedPort, resetPort]);
  const firing = async (): Promise<PromAlert[]> => {
    const r = await fetch(`${prom}/api/v1/alerts`).then((x) => x.json() as Promise<{ data: { alerts: PromAlert[] } }>);
    return r.data.alerts.filter((a) => a.state === 'firing');
  };
  const alerts = (await waitFor(
    async () => {
      const a = await firing();
      const failures = a.find((x) => x.labels.alertname === 'FlowscopeConnectionFailures' && x.labels.port === String(closedPort));
      const resets = a.find((x) => x.labels.alertname === 'FlowscopeNewResets' && x.labels.port === String(resetPort));
      return failures && resets ? a : undefined;
    },
    150_000,
    'FlowscopeConnectionFailures on the closed port and FlowscopeNewResets on the resetting server',
    1000,
  ))!;
  const failures = alerts.filter((x) => x.labels.alertname === 'FlowscopeConnectionFailures');
  assert.deepEqual(
    failures.map((x) => x.labels.port),
    [String(closedPort)],
    'only the closed port burns its budget',
  );
  assert.equal(failures[0]!.labels.severity, 'critical');
  assert.equal(failures[0]!.labels.role, 'client');
  assert.equal(failures[0]!.labels.peer_addr, '127.0.0.1');
  assert.ok(!alerts.some((x) => x.labels.port === String(okPort)), 'the healthy edge is quiet');
});
