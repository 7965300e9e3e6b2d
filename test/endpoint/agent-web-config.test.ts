// The agent and the exporter behind --web.config.file, as Prometheus meets them: the right credentials
// over TLS get 200 and the Prometheus text; no credentials, wrong ones, plain HTTP and every other
// path get nothing; a real Prometheus scrapes with basic_auth and tls_config, and a job with the wrong
// password or without TLS is down. Detail pages stay on the node when listening beyond loopback.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { flowscopeBin } from '../support/paths.js';
import { freePort } from '../support/agent.js';
import { background, runCommand, sleep } from '../support/run.js';
import { bcryptHash, makeCertificates, type TestCertificates } from '../support/certs.js';
import { rawExchange, request, type RequestOptions } from '../support/https.js';
import { startPrometheus } from '../support/prometheus.js';
import { exampleConfig, scratch } from '../programs/support.js';

const PASSWORD = 'scrape-Pa55-word';
let certs: TestCertificates;
let webFile: string;

interface Running {
  port: number;
  proc: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

/** Starts a flowscope command and waits until its /healthz answers over TLS with the credentials. */
async function startSecured(command: string, args: string[], host = '127.0.0.1'): Promise<Running> {
  const port = await freePort();
  const { proc, output, stop } = background(flowscopeBin, [command, '--listen', `${host}:${port}`, '--web.config.file', webFile, '--log-level', 'info', ...args], { ...process.env, FLOWSCOPE_FLOW_INTERFACES: '^lo$' });
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`${command} exited: ${output()}`);
    try {
      if ((await request(`https://127.0.0.1:${port}/healthz`, { ca: certs.caCert, auth: `prometheus:${PASSWORD}` })).status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${command} did not become healthy: ${output()}`);
    }
    await sleep(200);
  }
  return { port, proc, output, stop };
}

let agent: Running;
before(async () => {
  certs = makeCertificates();
  webFile = join(certs.dir, 'web.yml');
  writeFileSync(webFile, `tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\nbasic_auth_users:\n  prometheus: ${bcryptHash(PASSWORD)}\n`);
  agent = await startSecured('agent', ['--no-flows']);
});
after(async () => {
  await agent?.stop();
  certs.remove();
});

const right = (): RequestOptions => ({ ca: certs.caCert, auth: `prometheus:${PASSWORD}` });

test('the right credentials over TLS: 200 and Prometheus text that promtool accepts; HEAD without a body', async () => {
  const r = await request(`https://127.0.0.1:${agent.port}/metrics`, right());
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
  assert.match(r.body, /^# HELP flowscope_/m);
  assert.match(r.body, /^# TYPE flowscope_http_requests_refused_total counter$/m);
  const lint = await runCommand('promtool', ['check', 'metrics'], { input: r.body });
  assert.equal(lint.code, 0, lint.stdout + lint.stderr);
  const head = await request(`https://127.0.0.1:${agent.port}/metrics`, { ...right(), method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.body, '');
  // Loopback: the detail pages are served (to those with the credentials).
  assert.equal((await request(`https://127.0.0.1:${agent.port}/capabilities`, right())).status, 200);
});

test('no credentials, wrong ones, another user, plain HTTP, any path or method: nothing', async () => {
  for (const path of ['/metrics', '/healthz', '/capabilities', '/connections', '/', '/favicon.ico', '/metrics/../capabilities']) {
    for (const auth of [undefined, 'prometheus:wrong', `admin:${PASSWORD}`, `Prometheus:${PASSWORD}`]) {
      for (const method of ['GET', 'HEAD', 'POST']) {
        const r = await request(`https://127.0.0.1:${agent.port}${path}`, { ca: certs.caCert, method, ...(auth ? { auth } : {}) });
        assert.equal(r.status, 401, `${method} ${path} with ${auth ?? 'nothing'}`);
        assert.ok(!/flowscope_|"tcp"|edges/.test(r.body), `${method} ${path}: ${r.body}`);
      }
    }
  }
  const plain = await rawExchange('127.0.0.1', agent.port, [`GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Basic ${Buffer.from(`prometheus:${PASSWORD}`).toString('base64')}\r\n\r\n`], { waitMs: 3000 });
  assert.ok(plain.closedAfterMs !== undefined, 'plain HTTP: the server hangs up');
  assert.ok(!plain.received.toString('latin1').includes('flowscope_'), 'plain HTTP: no metrics');
  assert.ok(!plain.received.toString('latin1').startsWith('HTTP/'), `plain HTTP got an HTTP answer: ${plain.received.toString('latin1').slice(0, 80)}`);
  const m = await request(`https://127.0.0.1:${agent.port}/metrics`, right());
  for (const reason of ['unauthenticated', 'wrong_credentials', 'tls_handshake']) {
    assert.match(m.body, new RegExp(`flowscope_http_requests_refused_total\\{reason="${reason}"\\} [1-9]`), reason);
  }
});

test('a real Prometheus scrapes with basic_auth and tls_config; wrong password and plain HTTP jobs are down', async () => {
  const passFile = join(certs.dir, 'password');
  const wrongFile = join(certs.dir, 'wrong');
  writeFileSync(passFile, PASSWORD);
  writeFileSync(wrongFile, 'not-the-password');
  const target = `127.0.0.1:${agent.port}`;
  const prom = await startPrometheus(`  - job_name: flowscope
    scheme: https
    tls_config:
      ca_file: ${certs.caCert}
    basic_auth:
      username: prometheus
      password_file: ${passFile}
    static_configs: [{ targets: ['${target}'] }]
  - job_name: wrong-password
    scheme: https
    tls_config:
      ca_file: ${certs.caCert}
    basic_auth:
      username: prometheus
      password_file: ${wrongFile}
    static_configs: [{ targets: ['${target}'] }]
  - job_name: plain-http
    basic_auth:
      username: prometheus
      password_file: ${passFile}
    static_configs: [{ targets: ['${target}'] }]
`);
  try {
    const targets = await prom.waitForScrapes(20_000);
    const byJob = Object.fromEntries(targets.map((t) => [t.labels.job!, t]));
    assert.equal(byJob.flowscope?.health, 'up', byJob.flowscope?.lastError);
    assert.equal(byJob['wrong-password']?.health, 'down');
    assert.match(byJob['wrong-password']!.lastError, /401/);
    assert.equal(byJob['plain-http']?.health, 'down');
    // The samples are in Prometheus: the agent's own metrics from the authenticated job only.
    const deadline = Date.now() + 10_000;
    let up: Awaited<ReturnType<typeof prom.query>> = [];
    while (Date.now() < deadline) {
      up = await prom.query('count by (job) ({__name__=~"flowscope_.+"})');
      if (up.length) break;
      await sleep(500);
    }
    assert.deepEqual(up.map((s) => s.metric.job), ['flowscope']);
    assert.ok(Number(up[0]!.value[1]) > 10, 'flowscope series were stored');
  } finally {
    await prom.stop();
  }
});

test('beyond loopback, /capabilities and /connections are off unless --web.enable-details', async () => {
  // 0.0.0.0 is beyond loopback; the test reaches it through 127.0.0.1.
  const wide = await startSecured('agent', ['--no-flows'], '0.0.0.0');
  try {
    for (const path of ['/capabilities', '/connections']) {
      const r = await request(`https://127.0.0.1:${wide.port}${path}`, right());
      assert.equal(r.status, 404, path);
      assert.match(r.body, /--web\.enable-details/);
    }
    assert.equal((await request(`https://127.0.0.1:${wide.port}/metrics`, right())).status, 200);
    assert.doesNotMatch((await request(`https://127.0.0.1:${wide.port}/`, right())).body, /capabilities/);
  } finally {
    await wide.stop();
  }
  const enabled = await startSecured('agent', ['--no-flows', '--web.enable-details'], '0.0.0.0');
  try {
    assert.equal((await request(`https://127.0.0.1:${enabled.port}/capabilities`, right())).status, 200);
    assert.equal((await request(`https://127.0.0.1:${enabled.port}/connections`, right())).status, 200);
  } finally {
    await enabled.stop();
  }
});

test('flowscope exporter takes the same --web.config.file', async () => {
  const s = scratch();
  const exporter = await startSecured('exporter', ['--config', exampleConfig(s.dir, 'tcp_retransmits')]);
  try {
    const ok = await request(`https://127.0.0.1:${exporter.port}/metrics`, right());
    assert.equal(ok.status, 200);
    assert.match(ok.body, /flowscope_program_up\{program="tcp_retransmits"\} 1/);
    assert.equal((await request(`https://127.0.0.1:${exporter.port}/metrics`, { ca: certs.caCert })).status, 401);
    assert.equal((await request(`https://127.0.0.1:${exporter.port}/capabilities`, { ca: certs.caCert, auth: 'prometheus:x' })).status, 401);
  } finally {
    await exporter.stop();
    s.cleanup();
  }
});

test('a bad web configuration stops the agent before it loads anything, naming the line', async () => {
  const bad = join(certs.dir, 'bad.yml');
  writeFileSync(bad, 'basic_auth_users:\n  prometheus: hunter2\n');
  const r = await runCommand(flowscopeBin, ['agent', '--web.config.file', bad], { timeoutMs: 30_000 });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /bad\.yml:2:15: basic_auth_users\.prometheus: is not a bcrypt hash/);
});
