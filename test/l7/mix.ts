// The request mix both HTTP/1 tests send over one keep-alive connection (20 index pages, 9 users,
// 7 missing, 5 failing: 41 requests), and what an agent must count of it per role.
import assert from 'node:assert/strict';
import type { Metrics } from '../support/prom.js';

export function assertMixCounts(m: Metrics, port: string, role: string): void {
  const c = { port, role, method: 'GET' };
  assert.equal(m.sum('flowscope_http_requests_total', { ...c, status: '200', route: '/index.html' }), 20, `${role}: index`);
  assert.equal(m.sum('flowscope_http_requests_total', { ...c, status: '404', route: '/missing/{id}' }), 7, `${role}: 404s`);
  assert.equal(m.sum('flowscope_http_requests_total', { ...c, status: '500', route: '/boom' }), 5, `${role}: 500s`);
  assert.equal(m.sum('flowscope_http_requests_total', { ...c, status: '200', route: '/users/{id}' }), 9, `${role}: users`);
  assert.equal(m.sum('flowscope_http_requests_total', { port, role }), 41, `${role}: nothing else`);
}
