// `flowscope hub --web.config.file`: the hub's API, UI and ingest over TLS with the agent endpoint's
// configuration format. curl (OpenSSL) trusts it with the test CA and gets the API with the token,
// 401 without; a client that trusts another CA, and plain HTTP, get nothing; a real agent sends its
// batches over https (trusting the CA through NODE_EXTRA_CA_CERTS) and the hub hears it. A
// configuration with basic_auth_users is refused: the bearer token is the hub's authentication.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { flowscopeBin } from '../support/paths.js';
import { freePort } from '../support/agent.js';
import { bcryptHash, makeCertificates, type TestCertificates } from '../support/certs.js';
import { request } from '../support/https.js';
import { runCommand, sh, waitFor } from '../support/run.js';

const TOKEN = 'hub-tls-test-token-0123456789';
let certs: TestCertificates;
let dir: string;

before(() => {
  certs = makeCertificates();
  dir = mkdtempSync(join(tmpdir(), 'fs-hub-tls-'));
  writeFileSync(join(dir, 'token'), `${TOKEN}\n`, { mode: 0o600 });
});

after(() => {
  certs?.remove();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Proc {
  proc: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

function start(args: string[], env: NodeJS.ProcessEnv = process.env): Proc {
  const proc = spawn(flowscopeBin, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) => proc.once('close', () => r()));
  return {
    proc,
    output: () => out,
    stop: async () => {
      if (proc.exitCode === null) proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    },
  };
}

test('the hub serves its API and ingest over TLS from --web.config.file; a real agent reports over https', async () => {
  const web = join(dir, 'web.yml');
  writeFileSync(web, `tls_server_config:\n  cert_file: ${certs.serverCert}\n  key_file: ${certs.serverKey}\n`);
  const port = await freePort();
  const url = `https://127.0.0.1:${port}`;
  const hub = start(['hub', '--listen', `127.0.0.1:${port}`, '--data', join(dir, 'data'), '--token-file', join(dir, 'token'), '--web.config.file', web, '--no-alerts', '--log-level', 'info']);
  let agent: Proc | undefined;
  try {
    await waitFor(
      () => {
        if (hub.proc.exitCode !== null) throw new Error(`the hub exited: ${hub.output()}`);
        return hub.output().includes('hub listening');
      },
      60_000,
      'the hub to listen',
    );
    // curl, trusting the test CA: the API with the token; 401 without.
    const curl = (path: string, ...extra: string[]): { status: number; body: string } => {
      const out = sh('curl', ['-sS', '--cacert', certs.caCert, '-w', '\n%{http_code}', ...extra, `${url}${path}`]);
      const at = out.lastIndexOf('\n');
      return { status: Number(out.slice(at + 1)), body: out.slice(0, at) };
    };
    const status = curl('/api/v1/status', '-H', `Authorization: Bearer ${TOKEN}`);
    assert.equal(status.status, 200, status.body);
    assert.equal(JSON.parse(status.body).store, 'embedded');
    assert.equal(curl('/api/v1/graph').status, 401, 'no token over TLS');
    // A client trusting another CA refuses the hub's certificate; plain HTTP gets no answer.
    const stranger = await runCommand('curl', ['-sS', '--cacert', certs.strangerCert, `${url}/healthz`], { timeoutMs: 30_000 });
    assert.notEqual(stranger.code, 0, 'a client that trusts another CA does not get through');
    assert.match(stranger.stderr, /certificate|SSL/i);
    const plain = await request(`http://127.0.0.1:${port}/healthz`).then(
      (r) => r.status,
      () => 0,
    );
    assert.notEqual(plain, 200, 'plain HTTP is not served');

    // A real agent sends over https, trusting the CA through Node's NODE_EXTRA_CA_CERTS.
    const agentPort = await freePort();
    agent = start(['agent', '--hub', url, '--hub-token-file', join(dir, 'token'), '--node-name', 'tls-node', '--no-flows', '--listen', `127.0.0.1:${agentPort}`, '--log-level', 'warn'], { ...process.env, NODE_EXTRA_CA_CERTS: certs.caCert });
    const heard = await waitFor(
      async () => {
        if (agent!.proc.exitCode !== null) throw new Error(`the agent exited: ${agent!.output()}`);
        const r = await request(`${url}/api/v1/status`, { ca: certs.caCert, headers: { authorization: `Bearer ${TOKEN}` } });
        const agents = (JSON.parse(r.body) as { agents: Array<{ node: string; reporting: boolean; batches: number }> }).agents;
        // Batches, not only the hello: ingest went over TLS too.
        return agents.find((a) => a.node === 'tls-node' && a.reporting && a.batches > 0);
      },
      60_000,
      'the agent to report to the hub over TLS',
      500,
    );
    assert.equal(heard?.node, 'tls-node');
    assert.doesNotMatch(agent.output(), /certificate|self.signed|UNABLE_TO_VERIFY/i, 'the agent trusted the hub');
  } finally {
    await agent?.stop();
    await hub.stop();
  }
});

test('the hub refuses a web configuration with basic_auth_users (its authentication is the bearer token)', async () => {
  const web = join(dir, 'web-users.yml');
  writeFileSync(web, `tls_server_config:\n  cert_file: ${certs.serverCert}\n  key_file: ${certs.serverKey}\nbasic_auth_users:\n  prometheus: ${bcryptHash('a-password-here')}\n`);
  const r = await runCommand(flowscopeBin, ['hub', '--listen', `127.0.0.1:${await freePort()}`, '--data', join(dir, 'data2'), '--web.config.file', web, '--no-alerts'], { timeoutMs: 30_000 });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /basic_auth_users is not for the hub/);
});
