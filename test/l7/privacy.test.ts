// Privacy: only method, route, status and timing leave the kernel side for HTTP/1, and nothing but
// routes is written. Secrets put in request and response bodies, header values and query strings
// (plaintext HTTP/1 to nginx and Python, HTTPS to Node.js, gRPC over TLS) appear neither in the
// records that cross the kernel boundary (HTTP/1: none of them; HTTP/2: no body) nor anywhere the
// agent writes: /metrics, /capabilities, /connections, its NDJSON records and its log.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAgent, type RunningAgent } from '../support/agent.js';
import { runCommand } from '../support/run.js';
import { L7Tracer } from '../../src/agent/l7/tracer.js';
import { startNginx, startPython, startPeer, runPeer, makeCert, curlQuiet, type Nginx } from './support.js';

const SECRET = `fs${Math.random().toString(36).slice(2, 10)}`;
let agent: RunningAgent;
let nginx: Nginx;
let python: Awaited<ReturnType<typeof startPython>>;
let raw: L7Tracer;
const crossed: Buffer[] = [];
let certDir: string;

before(async () => {
  nginx = await startNginx();
  python = await startPython();
  certDir = mkdtempSync(join(tmpdir(), 'fs-l7-priv-'));
  // What crosses the kernel boundary, as the agent's decoder receives it.
  raw = L7Tracer.open({ selfPid: process.pid, onEvents: (b) => crossed.push(Buffer.from(b.buffer)) });
  agent = await startAgent(['--l7', '--output', 'ndjson', '--no-flows', '--log-level', 'debug']);
});
after(async () => {
  raw?.close();
  assert.equal(await agent?.stop(), 0, 'the agent exits cleanly');
  await nginx?.stop();
  await python?.stop();
  rmSync(certDir, { recursive: true, force: true });
});

test('secrets in bodies, header values and query strings never cross the kernel boundary (HTTP/1) nor appear in anything the agent writes', async () => {
  const headers = [`X-Api-Key: ${SECRET}-hdr`, `Cookie: session=${SECRET}-cookie`, `Authorization: Bearer ${SECRET}-auth`];
  const nginxUrls = [`http://127.0.0.1:${nginx.port}/users/42?token=${SECRET}-query`, `http://127.0.0.1:${nginx.port}/index.html?q=${SECRET}-q2#frag-${SECRET}`];
  assert.deepEqual(curlQuiet(nginxUrls, headers), [200, 200]);
  assert.deepEqual(curlQuiet([`http://127.0.0.1:${nginx.port}/boom?x=${SECRET}-q3`], headers, `${SECRET}-body`), [500]);
  assert.deepEqual(curlQuiet([`http://127.0.0.1:${python.port}/hello.txt?${SECRET}-q4`], headers), [200]);
  // Over TLS: nginx with curl, and Node.js with a secret in its response body and headers too.
  assert.deepEqual(curlQuiet([`https://127.0.0.1:${nginx.tlsPort}/users/7?k=${SECRET}-q5`], headers, `${SECRET}-body`), [200]);
  const { cert, key } = makeCert(certDir);
  const env = { FS_SECRET: SECRET };
  const https = await startPeer('https-server', [cert, key], env);
  const grpc = await startPeer('grpc-server', [cert, key], env);
  try {
    await runPeer('https-client', [String(https.port), '2'], env);
    await runPeer('grpc-client', [String(grpc.port), '2', cert], env);
    const p = String(nginx.port);
    await agent.waitFor(
      (m) =>
        m.sum('flowscope_http_requests_total', { port: p, role: 'server' }) >= 3 &&
        m.sum('flowscope_http_requests_total', { port: String(https.port), role: 'client' }) >= 8 &&
        m.sum('flowscope_grpc_requests_total', { port: String(grpc.port), role: 'client' }) >= 6,
      8000,
      'the requests with secrets, counted',
    );
    await raw.events.flush();
    const m = await agent.scrape();
    assert.equal(m.sum('flowscope_http_requests_total', { port: p, role: 'server', route: '/users/{id}', status: '200' }), 1, 'counted by route, without its query');
    const caps = await agent.json<{ l7: { hooks: Array<{ group: string; hook: string | null }>; tls: { attached: Array<{ path: string; kind: string }> }; privacy: string } }>('/capabilities');
    assert.deepEqual(caps.l7.hooks.map((h) => [h.group, h.hook]), [['data', 'tracepoint'], ['close', 'tp_btf'], ['processes', 'tracepoint']], 'the hooks L7 runs on');
    assert.ok(caps.l7.tls.attached.some((a) => a.kind === 'libssl'), 'OpenSSL probes reported in /capabilities');
    assert.match(caps.l7.privacy, /never cross/);
    const exposition = await agent.text();
    assert.ok(exposition.includes('flowscope_grpc_request_duration_seconds_bucket{'), 'request metrics in the exposition');
    const lint = await runCommand('promtool', ['check', 'metrics'], { input: exposition });
    assert.equal(lint.code, 0, `promtool check metrics: ${lint.stdout}${lint.stderr}`);
    assert.equal(lint.stdout.trim() + lint.stderr.trim(), '', 'promtool finds nothing to complain about');
    // Everything the agent wrote.
    const written = [await agent.text(), JSON.stringify(await agent.json('/capabilities')), JSON.stringify(await agent.json('/connections')), agent.stdout(), agent.stderr()].join('\n');
    assert.ok(agent.records().some((r) => r.type === 'request' && r.route === '/users/{id}'), 'request records were written');
    assert.ok(!written.includes(SECRET), `a secret (${SECRET}) was written: ${written.slice(Math.max(0, written.indexOf(SECRET) - 200), written.indexOf(SECRET) + 100)}`);
    // What crossed the kernel boundary.
    const kernel = Buffer.concat(crossed);
    assert.ok(kernel.length > 0 && kernel.includes('/users/'), 'records crossed (paths up to their query strings)');
    for (const part of ['-hdr', '-cookie', '-auth', '-body', '-query', '-q2', '-q3', '-q4', '-q5', '-response-body', '-request-body', '-reply-header', '-header-value']) {
      assert.ok(!kernel.includes(`${SECRET}${part}`), `${SECRET}${part} crossed the kernel boundary`);
    }
    // gRPC bodies are DATA frames: never sent. (Header blocks cross HPACK-encoded, decoded and dropped in the agent.)
    assert.ok(!kernel.includes(`world-${SECRET}`) && !kernel.includes(`${SECRET}-grpc-reply`), 'no gRPC message crossed');
  } finally {
    await https.stop();
    await grpc.stop();
  }
});
