import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Http1Matcher, type Http1Request } from './http1.js';
import type { Exchange, L7Conn } from '../../model/requests.js';

const conn: L7Conn = { sk: 7, pid: 1, comm: 'srv', cgroupId: 1, netns: 1, family: 2, local: '10.0.0.1', peer: '10.0.0.2', localPort: 80, peerPort: 40000 };
const req = (seq: number, path: string, tsNs: number): Http1Request => ({ conn, received: true, method: 'GET', path, pathTruncated: false, tls: false, seq, tsNs });
const resp = (seq: number, status: number, endNs: number) => ({ sk: 7, received: false, status, seq, tls: false, headNs: endNs, endNs, end: 'framing' as const });

test('pipelined requests are answered in order: each response goes to the request of its number', () => {
  const out: Exchange[] = [];
  const m = new Http1Matcher((x) => out.push(x));
  m.request(req(0, '/a', 100));
  m.request(req(1, '/b', 110));
  m.request(req(2, '/c', 120));
  m.response(resp(0, 200, 300));
  m.response(resp(1, 404, 400));
  m.response(resp(2, 500, 500));
  assert.deepEqual(out.map((x) => [x.path, x.status, x.endNs - x.startNs, x.role]), [['/a', 200, 200, 'server'], ['/b', 404, 290, 'server'], ['/c', 500, 380, 'server']]);
  assert.equal(m.waiting, 0);
});

test('a response without a request, and requests left unanswered at close, are counted, not matched', () => {
  const out: Exchange[] = [];
  const m = new Http1Matcher((x) => out.push(x));
  m.response(resp(0, 200, 10));
  assert.equal(m.unmatched, 1);
  m.request(req(0, '/x', 20));
  m.request(req(1, '/y', 30));
  m.response(resp(1, 200, 40)); // the kernel numbered it 1: request 0 will get no answer
  assert.deepEqual(out.map((x) => x.path), ['/y']);
  assert.equal(m.unanswered, 1);
  m.request(req(2, '/z', 50));
  m.close(7);
  assert.equal(m.unanswered, 2);
  assert.equal(m.waiting, 0);
});

test('a response from the same direction as the request does not match it', () => {
  const out: Exchange[] = [];
  const m = new Http1Matcher((x) => out.push(x));
  m.request(req(0, '/a', 1));
  m.response({ ...resp(0, 200, 2), received: true });
  assert.equal(out.length, 0);
  assert.equal(m.unmatched, 1);
});
