// The request mix both HTTP/1 tests send over one keep-alive connection (20 index pages, 9 users,
// 7 missing, 5 failing: 41 requests), and what an agent must count of it per role.
import assert from 'node:assert/strict';
import type { Metrics } from '../support/prom.js';
import { curl, type Nginx, type RunningL7 } from './support.js';

export function assertMixCounts(m: Metrics, port: string, role: string): void {
  const c = { port, role, method: 'GET' };
  assert.equal(m.sum('flowscope_http_requests_total', { ...c, status: '200', route: '/index.html' }), 20, `${role}: index`);
  assert.equal(m.sum('flowscope_http_requests_total', { ...c, status: '404', route: '/missing/{id}' }), 7, `${role}: 404s`);
  assert.equal(m.sum('flowscope_http_requests_total', { ...c, status: '500', route: '/boom' }), 5, `${role}: 500s`);
  assert.equal(m.sum('flowscope_http_requests_total', { ...c, status: '200', route: '/users/{id}' }), 9, `${role}: users`);
  assert.equal(m.sum('flowscope_http_requests_total', { port, role }), 41, `${role}: nothing else`);
}

/**
 * A response paced at 100 KB/s (nginx's /slow/): the server-side duration agrees with nginx's
 * $request_time (it starts when nginx reads the request and ends when it logs, after the last
 * write), the client's spans it. Returns the metrics read.
 */
export async function assertSlowRequestTimed(l7: RunningL7, nginx: Nginx): Promise<Metrics> {
  const before = nginx.accessLog().length;
  assert.deepEqual(curl([`http://127.0.0.1:${nginx.port}/slow/big.bin`]), [200]);
  const port = String(nginx.port);
  const m = await l7.waitFor((m) => m.sum('flowscope_http_request_duration_seconds_count', { port, route: '/slow/big.bin', role: 'server' }) === 1, 5000, 'the slow request');
  const logged = nginx.accessLog().slice(before);
  assert.equal(logged.length, 1);
  const truth = logged[0]!.seconds;
  assert.ok(truth > 0.8, `nginx paced the body (${truth} s)`);
  const ours = m.sum('flowscope_http_request_duration_seconds_sum', { port, route: '/slow/big.bin', role: 'server' });
  console.log(`# nginx $request_time ${truth} s, flowscope ${ours.toFixed(4)} s`);
  assert.ok(Math.abs(ours - truth) <= 0.02 + truth * 0.02, `server-side duration ${ours} vs access log ${truth}`);
  const client = m.sum('flowscope_http_request_duration_seconds_sum', { port, route: '/slow/big.bin', role: 'client' });
  assert.ok(client >= ours - 0.005 && client < truth + 0.1, `client-side ${client} spans the server's ${ours}`);
  return m;
}
