// The hub behind --web.config.file (TLS and basic authentication, the exporter-toolkit format): the
// right credentials over TLS get the API and the UI; none, wrong ones and plain HTTP get nothing; an
// agent with --hub-ca-file and --hub-basic-auth-file sends its edges (the connections a client made
// arrive at the hub); an agent that does not trust the hub's certificate says what to do and sends
// nothing; the hub refuses to listen beyond loopback with neither a token nor credentials.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { flowscopeBin } from '../support/paths.js';
import { freePort, startAgent, type RunningAgent } from '../support/agent.js';
import { background, type Background, runCommand, sleep, waitFor } from '../support/run.js';
import { bcryptHash, makeCertificates, type TestCertificates } from '../support/certs.js';
import { rawExchange, request, type RequestOptions } from '../support/https.js';

const PASSWORD = 'hub-Pa55-word-for-agents';
let certs: TestCertificates;
let dir: string;
let hub: Background & { port: number };
const agents: RunningAgent[] = [];

async function startHubCli(args: string[], host = '127.0.0.1'): Promise<typeof hub> {
  const port = await freePort();
  const { proc, output, stop } = background(flowscopeBin, ['hub', '--listen', `${host}:${port}`, '--data', join(dir, `data-${port}`), '--no-alerts', '--log-level', 'info', ...args]);
  await waitFor(
    async () => {
      if (proc.exitCode !== null) throw new Error(`hub exited: ${output()}`);
      return (await request(`https://127.0.0.1:${port}/healthz`, right()).catch(() => ({ status: 0 }))).status === 200;
    },
    30_000,
    'the hub over TLS',
    200,
  );
  return { port, proc, output, stop };
}

const right = (): RequestOptions => ({ ca: certs.caCert, auth: `agent:${PASSWORD}` });

before(async () => {
  certs = makeCertificates();
  dir = mkdtempSync(join(tmpdir(), 'fs-hub-tls-'));
  writeFileSync(join(certs.dir, 'web.yml'), `tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\nbasic_auth_users:\n  agent: ${bcryptHash(PASSWORD)}\n`);
  writeFileSync(join(dir, 'credentials'), `agent:${PASSWORD}\n`, { mode: 0o600 });
  hub = await startHubCli(['--web.config.file', join(certs.dir, 'web.yml')]);
});

after(async () => {
  for (const a of agents) await a.stop().catch(() => undefined);
  await hub?.stop();
  certs?.remove();
  rmSync(dir, { recursive: true, force: true });
});

test('the right credentials over TLS get the API and the UI; none, wrong ones and plain HTTP get nothing', async () => {
  const status = await request(`https://127.0.0.1:${hub.port}/api/v1/status`, right());
  assert.equal(status.status, 200, status.body);
  assert.equal(JSON.parse(status.body).store, 'embedded');
  const page = await request(`https://127.0.0.1:${hub.port}/`, right());
  assert.equal(page.status, 200);
  assert.match(String(page.headers['content-type']), /text\/html/);
  for (const path of ['/api/v1/status', '/api/v1/graph', '/api/openapi.json', '/metrics', '/', '/api/v1/ingest']) {
    for (const auth of [undefined, 'agent:wrong', `admin:${PASSWORD}`]) {
      const r = await request(`https://127.0.0.1:${hub.port}${path}`, { ca: certs.caCert, ...(auth ? { auth } : {}) });
      assert.equal(r.status, 401, `${path} with ${auth ?? 'nothing'}`);
      assert.ok(!/"edges"|"store"|flowscope_hub|<html/i.test(r.body), `${path}: ${r.body.slice(0, 80)}`);
    }
  }
  const plain = await rawExchange('127.0.0.1', hub.port, [`GET /api/v1/status HTTP/1.1\r\nHost: x\r\nAuthorization: Basic ${Buffer.from(`agent:${PASSWORD}`).toString('base64')}\r\n\r\n`], { waitMs: 3000 });
  assert.ok(!plain.received.toString('latin1').startsWith('HTTP/'), `plain HTTP got an HTTP answer: ${plain.received.toString('latin1').slice(0, 80)}`);
  assert.ok(!plain.received.toString('latin1').includes('"store"'), 'plain HTTP: no API answer');
});

test("an agent that trusts the hub's CA and has the credentials sends its edges: the connections a client made arrive", { timeout: 90_000 }, async () => {
  const server = net.createServer((s) => s.end('ok'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  try {
    const agent = await startAgent(['--no-flows', '--no-l7', '--node-name', 'tls-node', '--hub', `https://127.0.0.1:${hub.port}`, '--hub-ca-file', certs.caCert, '--hub-basic-auth-file', join(dir, 'credentials')]);
    agents.push(agent);
    await sleep(1500);
    const N = 25;
    for (let i = 0; i < N; i++) {
      await new Promise<void>((resolve, reject) => {
        const c = net.connect(port, '127.0.0.1', () => c.resume());
        c.on('end', () => c.end());
        c.on('close', () => resolve());
        c.on('error', reject);
      });
    }
    const seen = await waitFor(
      async () => {
        const r = await request(`https://127.0.0.1:${hub.port}/api/v1/graph?view=node&from=-5m&filter=port=${port}`, right());
        const edges = (JSON.parse(r.body).edges ?? []) as Array<{ connections: number }>;
        const total = edges.reduce((s, e) => s + e.connections, 0);
        return total >= N ? total : undefined;
      },
      45_000,
      `the ${N} connections to port ${port} at the hub`,
      500,
    );
    assert.equal(seen, N, 'every connection, once');
    const status = JSON.parse((await request(`https://127.0.0.1:${hub.port}/api/v1/status`, right())).body);
    assert.ok(status.agents.some((a: { node: string; reporting: boolean }) => a.node === 'tls-node' && a.reporting), JSON.stringify(status.agents));
  } finally {
    server.close();
  }
});

test("an agent that does not trust the hub's certificate says how to fix it, and nothing arrives", { timeout: 60_000 }, async () => {
  const agent = await startAgent(['--no-flows', '--no-l7', '--node-name', 'untrusting-node', '--hub', `https://127.0.0.1:${hub.port}`, '--hub-basic-auth-file', join(dir, 'credentials')]);
  agents.push(agent);
  const log = (): string => agent.stdout() + agent.stderr();
  await waitFor(() => log().includes('--hub-ca-file'), 20_000, `the agent's certificate error: ${log()}`);
  assert.match(log(), /"code":"UNABLE_TO_VERIFY_LEAF_SIGNATURE".*certificate is not trusted/);
  const status = JSON.parse((await request(`https://127.0.0.1:${hub.port}/api/v1/status`, right())).body);
  assert.ok(!status.agents.some((a: { node: string }) => a.node === 'untrusting-node'), 'the untrusting agent reached the hub');
  const m = await request(`https://127.0.0.1:${hub.port}/metrics`, right());
  assert.equal(m.status, 200);
});

test('beyond loopback the hub needs a token or credentials; with credentials in the web configuration it starts', async () => {
  const open = await runCommand(flowscopeBin, ['hub', '--listen', `0.0.0.0:${await freePort()}`, '--data', join(dir, 'open'), '--no-alerts'], { timeoutMs: 20_000 });
  assert.notEqual(open.code, 0);
  assert.match(open.stderr, /--token-file|basic_auth_users/);
  const tlsOnly = join(certs.dir, 'tls-only.yml');
  writeFileSync(tlsOnly, 'tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n');
  const noAuth = await runCommand(flowscopeBin, ['hub', '--listen', `0.0.0.0:${await freePort()}`, '--data', join(dir, 'tls-only'), '--no-alerts', '--web.config.file', tlsOnly], { timeoutMs: 20_000 });
  assert.notEqual(noAuth.code, 0, 'TLS alone lets anyone in');
  const both = join(dir, 'token');
  writeFileSync(both, 'a-token-of-enough-length-1234567890', { mode: 0o600 });
  const clash = await runCommand(flowscopeBin, ['hub', '--listen', `127.0.0.1:${await freePort()}`, '--data', join(dir, 'clash'), '--no-alerts', '--web.config.file', join(certs.dir, 'web.yml'), '--token-file', both], { timeoutMs: 20_000 });
  assert.notEqual(clash.code, 0);
  assert.match(clash.stderr, /Authorization header/);
  const wide = await startHubCli(['--web.config.file', join(certs.dir, 'web.yml')], '0.0.0.0');
  await wide.stop();
});
