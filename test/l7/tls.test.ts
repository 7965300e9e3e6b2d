// TLS without changing the application: uprobes on OpenSSL 3, attached as processes exec. Debian's
// nginx (libssl.so.3) against curl (libssl.so.3), and Node.js (OpenSSL linked statically, found by its
// SSL_* symbols, memory BIOs) as HTTPS server and client. Counts equal the clients' own.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startL7, startNginx, startPeer, runPeer, makeCert, curl, type Nginx, type RunningL7 } from './support.js';
import { runCommand, waitFor } from '../support/run.js';
import { compileC } from '../support/cbin.js';

let nginx: Nginx;
let l7: RunningL7;
let certDir: string;

before(async () => {
  nginx = await startNginx();
  certDir = mkdtempSync(join(tmpdir(), 'fs-l7-tls-'));
  l7 = startL7({ releaseAfterMs: 300 });
});
after(async () => {
  l7?.stop();
  await nginx?.stop();
  rmSync(certDir, { recursive: true, force: true });
});

test('nginx over HTTPS with curl: both roles through libssl.so.3, counts by method, status and route', async () => {
  const p = nginx.tlsPort;
  const statuses = curl([
    ...Array.from({ length: 12 }, () => `https://127.0.0.1:${p}/index.html`),
    ...Array.from({ length: 4 }, (_, i) => `https://127.0.0.1:${p}/users/${i + 17}`),
    ...Array.from({ length: 6 }, (_, i) => `https://127.0.0.1:${p}/gone/${i}`),
    ...Array.from({ length: 3 }, () => `https://127.0.0.1:${p}/boom`),
  ]);
  const seen = { 200: statuses.filter((s) => s === 200).length, 404: statuses.filter((s) => s === 404).length, 500: statuses.filter((s) => s === 500).length };
  assert.deepEqual(seen, { 200: 16, 404: 6, 500: 3 });
  const port = String(p);
  const m = await l7.waitFor((m) => m.sum('flowscope_http_requests_total', { port, role: 'server' }) >= 25 && m.sum('flowscope_http_requests_total', { port, role: 'client' }) >= 25, 5000, '25 requests over TLS, both roles');
  for (const role of ['server', 'client']) {
    const c = { port, role, tls: 'true', method: 'GET' };
    assert.equal(m.sum('flowscope_http_requests_total', { ...c, status: '200', route: '/index.html' }), 12, role);
    assert.equal(m.sum('flowscope_http_requests_total', { ...c, status: '200', route: '/users/{id}' }), 4, role);
    assert.equal(m.sum('flowscope_http_requests_total', { ...c, status: '404', route: '/gone/{id}' }), 6, role);
    assert.equal(m.sum('flowscope_http_requests_total', { ...c, status: '500', route: '/boom' }), 3, role);
    assert.equal(m.sum('flowscope_http_requests_total', { port, role }), 25, `${role}: nothing else (ciphertext never parsed)`);
  }
  assert.equal(m.select('flowscope_http_requests_total', { port, role: 'server' })[0]!.labels.process, 'nginx');
  assert.equal(m.select('flowscope_http_requests_total', { port, role: 'client' })[0]!.labels.process, 'curl');
  const tls = l7.monitor.capabilities(false).tls!;
  assert.ok(tls.attached.some((a) => a.kind === 'libssl' && a.path.endsWith('/libssl.so.3') && a.functions.includes('SSL_write')), JSON.stringify(tls));
  const log = nginx.accessLog().filter((e) => e.uri !== undefined);
  const durations = l7.records.filter((r) => r.role === 'server' && r.port === p).map((r) => r.duration_ms / 1000);
  assert.equal(durations.length, 25);
  const logged = log.slice(-25).map((e) => e.seconds);
  // nginx logs milliseconds: each of our durations rounds to within a millisecond of some log line's
  assert.ok(Math.max(...durations) <= Math.max(...logged) + 0.002, `durations ${Math.max(...durations)} vs logged ${Math.max(...logged)}`);
});

test('Node.js HTTPS (OpenSSL linked statically, memory BIOs): server and client, keep-alive, a chunked response, a POST body', async () => {
  const { cert, key } = makeCert(certDir);
  const server = await startPeer('https-server', [cert, key]);
  try {
    const got = await runPeer<Record<string, number[]>>('https-client', [String(server.port), '5']);
    assert.deepEqual(got, { ok: [200, 200, 200, 200, 200], missing: [404, 404, 404, 404, 404], fail: [500, 500, 500, 500, 500], chunked: [200, 200, 200, 200, 200] });
    const port = String(server.port);
    const m = await l7.waitFor((m) => m.sum('flowscope_http_requests_total', { port, role: 'server' }) >= 20 && m.sum('flowscope_http_requests_total', { port, role: 'client' }) >= 20, 5000, '20 requests, both roles');
    for (const role of ['server', 'client']) {
      const c = { port, role, tls: 'true', process: 'node' };
      assert.equal(m.sum('flowscope_http_requests_total', { ...c, method: 'GET', status: '200', route: '/ok' }), 5, role);
      assert.equal(m.sum('flowscope_http_requests_total', { ...c, method: 'GET', status: '404', route: '/missing/{id}' }), 5, role);
      assert.equal(m.sum('flowscope_http_requests_total', { ...c, method: 'POST', status: '500', route: '/fail' }), 5, role);
      assert.equal(m.sum('flowscope_http_requests_total', { ...c, method: 'GET', status: '200', route: '/chunked' }), 5, role);
      assert.equal(m.sum('flowscope_http_requests_total', { port, role }), 20, role);
    }
    // The chunked response is written 50 ms apart three times: timed to its last chunk, not its head.
    const chunked = l7.records.filter((r) => r.port === server.port && r.route === '/chunked' && r.role === 'server');
    assert.equal(chunked.length, 5);
    for (const r of chunked) assert.ok(r.duration_ms >= 95 && r.duration_ms < 1000, `chunked response took ${r.duration_ms} ms (three chunks 50 ms apart)`);
    const tls = l7.monitor.capabilities(false).tls!;
    assert.ok(tls.attached.some((a) => a.kind === 'static' && a.path === process.execPath), `node's own SSL_* symbols: ${JSON.stringify(tls.attached)}`);
  } finally {
    await server.stop();
  }
});

test('OpenSSL probes follow processes: a libssl.so.3 new to the node is attached as its process execs and released after it exits', async () => {
  // A copy of libssl.so.3 is a file no process maps yet: curl loads it through LD_LIBRARY_PATH.
  const lib = join(certDir, 'lib');
  mkdirSync(lib);
  copyFileSync('/usr/lib/x86_64-linux-gnu/libssl.so.3', join(lib, 'libssl.so.3'));
  const p = nginx.tlsPort;
  const before = l7.monitor.capabilities(false).tls!;
  assert.ok(!before.attached.some((a) => a.path.startsWith(lib)), 'not attached before any process maps it');
  // The first request is paced (1.5 s): the probes land while it runs; the next ones go through them.
  const run = runCommand('curl', ['-s', '-k', '-w', '%{http_code}\n', '-o', '/dev/null', `https://127.0.0.1:${p}/slow/big.bin`, ...Array.from({ length: 5 }, () => ['-o', '/dev/null', `https://127.0.0.1:${p}/users/77`]).flat()], { env: { ...process.env, LD_LIBRARY_PATH: lib } });
  const attached = await waitFor(() => l7.monitor.capabilities(false).tls!.attached.find((a) => a.path === join(lib, 'libssl.so.3')), 3000, 'the copy attached as curl execs');
  assert.equal(attached!.processes, 1);
  const r = await run;
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n').map(Number), [200, 200, 200, 200, 200, 200]);
  const m = await l7.waitFor((m) => m.sum('flowscope_http_requests_total', { port: String(p), role: 'client', route: '/users/{id}' }) >= 4 + 5, 5000, 'the later requests seen through the new copy');
  assert.ok(m.sum('flowscope_http_requests_total', { port: String(p), role: 'client', route: '/users/{id}', tls: 'true' }) >= 9);
  await waitFor(() => !l7.monitor.capabilities(false).tls!.attached.some((a) => a.path === join(lib, 'libssl.so.3')) || undefined, 5000, 'released after curl exited');
  assert.ok(l7.monitor.capabilities(false).tls!.released >= 1);
});

test('a program that carries OpenSSL 3 without its symbols is reported in the capabilities as it execs', async () => {
  const bin = compileC('fs-static-ssl', '#include <stdio.h>\n#include <unistd.h>\nconst char v[] = "OpenSSL 3.0.99 statically linked, symbols stripped";\nint main(void) { puts(v); fflush(stdout); sleep(2); return 0; }\n', ['-s']);
  const proc = runCommand(bin, []);
  const found = await waitFor(() => l7.monitor.capabilities(false).tls!.staticWithoutSymbols.find((s) => s.path === bin), 3000, 'the stripped program reported');
  assert.equal(found!.comm, 'fs-static-ssl');
  assert.ok(!l7.monitor.capabilities(false).tls!.attached.some((a) => a.path === bin), 'and not reported as traced');
  assert.ok(!l7.monitor.capabilities(false).tls!.staticWithoutSymbols.some((s) => s.path === '/usr/sbin/nginx'), 'nginx maps libssl.so.3: traced, not reported');
  await proc;
});
