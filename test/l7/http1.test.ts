// HTTP/1.x from syscalls, no kprobes: Debian's nginx and Python's http.server against curl and raw
// sockets. Counts by method, status and route equal the clients' own; durations agree with nginx's
// access log; keep-alive, pipelining and chunked responses are matched correctly.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { startL7, startNginx, startPython, curl, type Nginx, type RunningL7 } from './support.js';
import { assertMixCounts, assertSlowRequestTimed } from './mix.js';

let nginx: Nginx;
let python: Awaited<ReturnType<typeof startPython>>;
let l7: RunningL7;

before(async () => {
  nginx = await startNginx();
  python = await startPython();
  l7 = startL7();
});
after(async () => {
  l7?.stop();
  await nginx?.stop();
  await python?.stop();
});

const tally = (statuses: number[]): Map<number, number> => {
  const m = new Map<number, number>();
  for (const s of statuses) m.set(s, (m.get(s) ?? 0) + 1);
  return m;
};

test('nginx over keep-alive: counts by method, status and route equal curl\'s, both roles', async () => {
  const p = nginx.port;
  const urls = [
    ...Array.from({ length: 20 }, () => `http://127.0.0.1:${p}/index.html`),
    ...Array.from({ length: 7 }, (_, i) => `http://127.0.0.1:${p}/missing/${1000 + i}`),
    ...Array.from({ length: 5 }, () => `http://127.0.0.1:${p}/boom`),
    ...Array.from({ length: 9 }, (_, i) => `http://127.0.0.1:${p}/users/${i * 7919}`),
  ];
  const seen = tally(curl(urls)); // one curl: one keep-alive connection
  assert.deepEqual([...seen.entries()].sort(), [[200, 29], [404, 7], [500, 5]]);
  const port = String(p);
  const m = await l7.waitFor((m) => m.sum('flowscope_http_requests_total', { port, role: 'server' }) >= 41 && m.sum('flowscope_http_requests_total', { port, role: 'client' }) >= 41, 5000, 'all 41 requests, both roles');
  for (const role of ['server', 'client']) {
    assertMixCounts(m, port, role);
  }
  const server = m.select('flowscope_http_requests_total', { port, role: 'server' })[0]!.labels;
  assert.equal(server.process, 'nginx');
  assert.equal(server.tls, 'false');
  assert.equal(m.select('flowscope_http_requests_total', { port, role: 'client' })[0]!.labels.process, 'curl');
  const log = nginx.accessLog();
  assert.equal(log.length, 41, 'nginx logged the same 41');
});

test('durations agree with nginx\'s $request_time: a response paced at 100 KB/s is timed to its last byte', async () => {
  await assertSlowRequestTimed(l7, nginx);
});

test('a chunked (gzip) response on a keep-alive connection, then more requests: each matched to its own status', async () => {
  const p = nginx.port;
  const statuses = curl([`http://127.0.0.1:${p}/static/app.txt`, `http://127.0.0.1:${p}/boom`, `http://127.0.0.1:${p}/static/app.txt`, `http://127.0.0.1:${p}/nothing`], ['-H', 'Accept-Encoding: gzip']);
  assert.deepEqual(statuses, [200, 500, 200, 404]);
  const port = String(p);
  const m = await l7.waitFor((m) => m.sum('flowscope_http_requests_total', { port, role: 'server', route: '/static/app.txt' }) === 2 && m.sum('flowscope_http_requests_total', { port, role: 'server', route: '/nothing' }) === 1, 5000, 'the chunked exchanges');
  assert.equal(m.sum('flowscope_http_requests_total', { port, role: 'server', route: '/static/app.txt', status: '200' }), 2);
  assert.equal(m.sum('flowscope_http_requests_total', { port, role: 'client', route: '/static/app.txt', status: '200' }), 2);
  assert.equal(m.sum('flowscope_http_requests_total', { port, role: 'server', route: '/nothing', status: '404' }), 1, 'the request after a chunked response keeps its own status');
  const chunked = l7.records.filter((r) => r.route === '/static/app.txt' && r.role === 'server');
  assert.ok(chunked.every((r) => r.end === 'framing'), `chunked responses end at their terminator: ${JSON.stringify(chunked.map((r) => r.end))}`);
});

test('pipelining: three requests in one write, answered in order, each with its status', async () => {
  const port = nginx.port;
  const reqs = ['GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n', 'GET /pipelined/42 HTTP/1.1\r\nHost: x\r\n\r\n', 'GET /boom HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'].join('');
  const answer = await new Promise<string>((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.write(reqs));
    let data = '';
    s.on('data', (d) => (data += d.toString('latin1')));
    s.on('end', () => resolve(data));
    s.on('error', reject);
  });
  const statuses = [...answer.matchAll(/^HTTP\/1\.1 (\d{3})/gm)].map((x) => Number(x[1]));
  assert.deepEqual(statuses, [200, 404, 500], 'nginx answered the three in order');
  const p = String(port);
  const m = await l7.waitFor((m) => m.sum('flowscope_http_requests_total', { port: p, role: 'server', route: '/pipelined/{id}' }) === 1, 5000, 'the pipelined requests');
  assert.equal(m.sum('flowscope_http_requests_total', { port: p, role: 'server', route: '/pipelined/{id}', status: '404' }), 1);
  const recs = l7.records.filter((r) => r.role === 'server' && r.port === port && r.process === 'nginx').slice(-3);
  assert.deepEqual(recs.map((r) => [r.route, r.status]), [['/index.html', 200], ['/pipelined/{id}', 404], ['/boom', 500]]);
  const clientRecs = l7.records.filter((r) => r.role === 'client' && r.port === port && r.process === 'node').slice(-3);
  assert.deepEqual(clientRecs, [], 'the test process itself is never traced');
});

test('Python http.server: 200s, 404s and 501s (a method it does not implement), both roles', async () => {
  const p = python.port;
  const logBefore = python.log().split('\n').filter((l) => /"(GET|DELETE) /.test(l)).length;
  const ok = tally(curl(Array.from({ length: 6 }, () => `http://127.0.0.1:${p}/hello.txt`)));
  const missing = tally(curl(Array.from({ length: 4 }, (_, i) => `http://127.0.0.1:${p}/nope/${i}abc${i}def${i}99`)));
  const unimplemented = tally(curl([`http://127.0.0.1:${p}/hello.txt`, `http://127.0.0.1:${p}/hello.txt`, `http://127.0.0.1:${p}/hello.txt`], ['-X', 'DELETE']));
  assert.equal(ok.get(200), 6);
  assert.equal(missing.get(404), 4);
  assert.equal(unimplemented.get(501), 3);
  const port = String(p);
  const m = await l7
    .waitFor((m) => m.sum('flowscope_http_requests_total', { port, role: 'server' }) >= 13 && m.sum('flowscope_http_requests_total', { port, role: 'client' }) >= 13, 5000, '13 requests')
    .catch(async (err: Error) => {
      const now = await l7.metrics();
      throw new Error(`${err.message}: ${JSON.stringify(now.select('flowscope_http_requests_total', { port }).map((s) => [s.labels.role, s.labels.method, s.labels.status, s.labels.route, s.value]))}`);
    });
  for (const role of ['server', 'client']) {
    assert.equal(m.sum('flowscope_http_requests_total', { port, role, method: 'GET', status: '200', route: '/hello.txt' }), 6, role);
    assert.equal(m.sum('flowscope_http_requests_total', { port, role, method: 'GET', status: '404', route: '/nope/{id}' }), 4, role);
    assert.equal(m.sum('flowscope_http_requests_total', { port, role, method: 'DELETE', status: '501', route: '/hello.txt' }), 3, role);
    assert.equal(m.sum('flowscope_http_requests_total', { port, role }), 13, role);
  }
  assert.equal(m.select('flowscope_http_requests_total', { port, role: 'server' })[0]!.labels.process, 'python3');
  const logged = python.log().split('\n').filter((l) => /"(GET|DELETE) /.test(l));
  assert.equal(logged.length - logBefore, 13, 'python logged the same 13');
});
