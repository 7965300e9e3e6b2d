// HTTP/2 that is not gRPC: Debian's nginx with curl (nghttp2's HPACK encoder on one side, nginx's on
// the other), with prior knowledge over cleartext and negotiated over TLS (ALPN). Counts by method,
// status and route equal curl's; HPACK state stays in step over many requests on one connection.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startL7, startNginx, curl, type Nginx, type RunningL7 } from './support.js';

let nginx: Nginx;
let l7: RunningL7;

before(async () => {
  nginx = await startNginx();
  l7 = startL7();
});
after(async () => {
  l7?.stop();
  await nginx?.stop();
});

for (const tls of [false, true]) {
  test(`HTTP/2 ${tls ? 'over TLS (ALPN h2)' : 'with prior knowledge'}: nginx and curl, both roles, 200s, 404s and 500s`, async () => {
    const port = tls ? nginx.h2TlsPort : nginx.h2Port;
    const base = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
    const urls = [
      ...Array.from({ length: 15 }, () => `${base}/index.html`),
      ...Array.from({ length: 6 }, (_, i) => `${base}/users/${900 + i}?q=${i}`),
      ...Array.from({ length: 4 }, (_, i) => `${base}/absent/${i}`),
      ...Array.from({ length: 3 }, () => `${base}/boom`),
    ];
    // curl 7.88 drops a reused prior-knowledge connection after its first request (exit 16, no agent
    // needed to see it): cleartext goes one connection per request, TLS all on one.
    const statuses = tls ? curl(urls, ['--http2']) : urls.flatMap((u) => curl([u], ['--http2-prior-knowledge']));
    assert.deepEqual([statuses.filter((s) => s === 200).length, statuses.filter((s) => s === 404).length, statuses.filter((s) => s === 500).length], [21, 4, 3]);
    const p = String(port);
    const m = await l7.waitFor((m) => m.sum('flowscope_http_requests_total', { port: p, role: 'server' }) >= 28 && m.sum('flowscope_http_requests_total', { port: p, role: 'client' }) >= 28, 5000, '28 HTTP/2 requests, both roles');
    for (const role of ['server', 'client']) {
      const c = { port: p, role, method: 'GET', tls: String(tls) };
      assert.equal(m.sum('flowscope_http_requests_total', { ...c, status: '200', route: '/index.html' }), 15, role);
      assert.equal(m.sum('flowscope_http_requests_total', { ...c, status: '200', route: '/users/{id}' }), 6, role);
      assert.equal(m.sum('flowscope_http_requests_total', { ...c, status: '404', route: '/absent/{id}' }), 4, role);
      assert.equal(m.sum('flowscope_http_requests_total', { ...c, status: '500', route: '/boom' }), 3, role);
      assert.equal(m.sum('flowscope_http_requests_total', { port: p, role }), 28, role);
    }
    assert.equal(m.sum('flowscope_agent_l7_lost_total', { reason: 'h2_header_state_lost' }), 0);
    assert.ok(l7.records.filter((r) => r.port === port).every((r) => r.protocol === 'http2'));
  });
}
