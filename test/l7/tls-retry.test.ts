// SSL_write is probed at entry only (no return probe): its plaintext is taken when the call begins.
// A call OpenSSL asks to repeat (SSL_ERROR_WANT_WRITE: the socket was full) is the same request, and a
// write of many TLS records is one message. Python's ssl module (Debian's libssl.so.3) as server and
// as a non-blocking client that retries; counts equal the client's and the server's own.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoPath } from '../../src/lib/paths.js';
import { startL7, makeCert, stopChild, type RunningL7 } from './support.js';
import { runCommand, waitFor } from '../support/run.js';

const FIXTURE = repoPath('test/l7/fixtures/tls_retry.py');
let l7: RunningL7;
let dir: string;
let server: ChildProcess | undefined;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'fs-l7-retry-'));
  l7 = startL7({ releaseAfterMs: 300 });
});
after(async () => {
  l7?.stop();
  if (server) await stopChild(server);
  rmSync(dir, { recursive: true, force: true });
});

test('an SSL_write retried after WANT_WRITE counts once; writes of many TLS records are one message', async () => {
  const { cert, key } = makeCert(dir);
  server = spawn('/usr/bin/python3', [FIXTURE, 'serve', cert, key], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  server.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const port = (await waitFor(() => (/^\d+\n/.test(out) ? Number(out.trim()) : undefined), 10_000, 'the Python TLS server'))!;
  // the server maps libssl.so.3 once `ssl` is imported: wait for the agent to attach to it
  await waitFor(() => (l7.monitor.capabilities(false).tls?.attached.some((a) => a.kind === 'libssl' && a.processes > 0) ? true : undefined), 10_000, 'OpenSSL probes on libssl.so.3');
  const r = await runCommand('/usr/bin/python3', [FIXTURE, 'client', String(port)]);
  const got = JSON.parse(r.stdout) as { wants: number; statuses: number[] };
  assert.deepEqual(got.statuses, [201, 201, 200, 200, 200, 200]);
  assert.ok(got.wants >= 2, `the client's SSL_write was retried after WANT_WRITE (${got.wants} retries): the case under test happened`);
  const p = String(port);
  const m = await l7.waitFor((m) => m.sum('flowscope_http_requests_total', { port: p, role: 'server' }) >= 6 && m.sum('flowscope_http_requests_total', { port: p, role: 'client' }) >= 6, 10_000, '6 requests, both roles');
  for (const role of ['server', 'client']) {
    const c = { port: p, role, tls: 'true', process: 'python3' };
    assert.equal(m.sum('flowscope_http_requests_total', { ...c, method: 'POST', status: '201', route: '/upload' }), 2, `${role}: each retried POST once`);
    assert.equal(m.sum('flowscope_http_requests_total', { ...c, method: 'GET', status: '200', route: '/big' }), 3, role);
    assert.equal(m.sum('flowscope_http_requests_total', { ...c, method: 'GET', status: '200', route: '/small' }), 1, role);
    assert.equal(m.sum('flowscope_http_requests_total', { port: p, role }), 6, `${role}: nothing else`);
  }
  // The client times a POST from its write to the response's end: at least the server's 300 ms pause.
  const posts = l7.records.filter((x) => x.port === port && x.role === 'client' && x.method === 'POST');
  assert.equal(posts.length, 2);
  for (const x of posts) assert.ok(x.duration_ms >= 290, `POST took ${x.duration_ms} ms`);
  // The 200,000-byte responses end with their last byte, after the head: ended by framing, not at the head.
  const big = l7.records.filter((x) => x.port === port && x.route === '/big');
  assert.equal(big.length, 6);
  for (const x of big) assert.equal(x.end, 'framing', JSON.stringify(x));
});
