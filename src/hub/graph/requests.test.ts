import { test } from 'node:test';
import assert from 'node:assert/strict';
import { REQUEST_BUCKETS } from '../../model/requests.js';
import { C, WIDTH, addInto, addTcpRecord, newSide, usedWidth } from './counters.js';
import { processEndpoint } from './endpoint.js';
import { fineTotalsOf } from './fine-totals.js';
import { breakdown } from './breakdown.js';
import { buildViewGraph, edgeCounters } from './graph.js';
import { graphJson } from './graph-json.js';
import { ViewIndex } from './view-index.js';
import { groupTotals } from './view-totals.js';
import { parseView } from './views.js';
import type { wire } from '../../model/index.js';
import type { EdgeTotals } from '../store/store.js';

const record = (role: 'client' | 'server', requests?: wire.RequestsV1): wire.TcpEdgeV1 => ({
  role, process: 'p', peer: '', port: 80, local: {}, remote: {}, opened: 2, closed: 2, active: 0, bytes_sent: 0, bytes_received: 0, retransmits: 0, resets_sent: 0, resets_received: 0,
  ...(requests ? { requests } : {}),
});
const hist = (at: number, n: number) => ({ counts: REQUEST_BUCKETS.map((_, i) => (i === at ? n : 0)), sum: n * REQUEST_BUCKETS[at]!, count: n });

const client = processEndpoint('node-a', 'z1', 'curl', '', { namespace: 'shop', workload: 'checkout' });
const server = processEndpoint('node-b', 'z1', 'nginx', '', { namespace: 'shop', workload: 'payments' });

function graphEdgeJson(c: wire.TcpEdgeV1 | undefined, s: wire.TcpEdgeV1 | undefined) {
  const side = (r: wire.TcpEdgeV1 | undefined) => {
    if (!r) return undefined;
    const v = newSide();
    addTcpRecord(v, r);
    return v;
  };
  const totals: EdgeTotals = { edge: { key: 'k', id: 0, client, server, port: 80, protocol: 'tcp' }, sides: [side(c), side(s)] };
  const g = JSON.parse(Buffer.concat(graphJson(groupTotals(new ViewIndex(parseView('workload')), fineTotalsOf([totals])), { from: 0, to: 1, sides: true })).toString('utf8'));
  return { json: g.edges[0], object: edgeCounters(totals.sides[0], totals.sides[1]) };
}

test('an edge carries requests by status and their quantiles only when a side saw requests; JSON writer and objects agree', () => {
  const plain = graphEdgeJson(record('client'), record('server'));
  for (const k of ['requests', 'request_errors', 'requests_by_status', 'request_p50_seconds', 'request_p99_seconds']) {
    assert.equal(k in plain.json, false, `${k} absent without requests`);
    assert.equal(k in plain.object, false);
  }
  assert.equal('requests' in plain.json.client, false);

  // The server saw 10 (2 of them 5xx, one an unknown gRPC code); the client captured nothing.
  const seen = { count: 10, errors: 3, by_status: { '2xx': 6, '5xx': 2, '4xx': 1, 'grpc:UNKNOWN_99': 1 }, duration: hist(4, 10) };
  const one = graphEdgeJson(record('client'), record('server', seen));
  assert.equal(one.json.requests, 10);
  assert.equal(one.json.request_errors, 3);
  assert.deepEqual(one.json.requests_by_status, { '2xx': 6, '4xx': 1, '5xx': 2, other: 1 });
  assert.ok(one.json.request_p50_seconds > REQUEST_BUCKETS[3]! && one.json.request_p50_seconds <= REQUEST_BUCKETS[4]!, `p50 ${one.json.request_p50_seconds} in the bucket`);
  assert.equal(one.json.server.requests, 10);
  const { client: _c, server: _s, ...rest } = one.object;
  const { id: _i, source: _so, target: _t, port: _p, protocol: _pr, client: _jc, server: _js, ...restJson } = one.json;
  assert.deepEqual(restJson, JSON.parse(JSON.stringify(rest)), 'the byte writer writes what the object builder builds');

  // Both captured: the side that saw more stands for the edge.
  const both = graphEdgeJson(record('client', { count: 12, errors: 0, by_status: { '2xx': 12 } }), record('server', seen));
  assert.equal(both.json.requests, 12);
  assert.deepEqual(both.json.requests_by_status, { '2xx': 12 });
  assert.equal(both.json.request_p50_seconds, null, 'no durations sent: no quantile');
});

test('breakdown: the server pod that answers 5xx holds the failed requests and tops the ranking', () => {
  const pod = (name: string) => processEndpoint('node-b', 'z1', 'nginx', '', { namespace: 'shop', workload: 'payments', pod: name });
  const members: EdgeTotals[] = ['payments-1', 'payments-2', 'payments-3'].map((name, id) => {
    const errors = name === 'payments-2' ? 9 : 0;
    const byStatus = { '2xx': 30 - errors, ...(errors ? { '5xx': errors } : {}) };
    const side = (role: 'client' | 'server') => {
      const v = newSide();
      addTcpRecord(v, record(role, { count: 30, errors, by_status: byStatus }));
      return v;
    };
    return { edge: { key: String(id), id, client, server: pod(name), port: 80, protocol: 'tcp' }, sides: [side('client'), side('server')] };
  });
  const g = buildViewGraph(members, parseView('workload'));
  const b = breakdown([...g.edges.values()][0]!, 'pod');
  assert.equal(b.total.request_errors, 9);
  const top = b.parts[0]!;
  assert.equal(top.value, 'payments-2');
  assert.equal(top.request_errors, 9);
  assert.equal(top.request_error_share, 1);
  assert.equal(top.problem_share, 1);
  assert.ok(Math.abs(top.traffic_share - 1 / 3) < 0.01);
  // Without requests the parts carry no request members.
  const plain = breakdown([...buildViewGraph([{ ...members[0]!, sides: [newSide(), undefined] }], parseView('workload')).edges.values()][0]!, 'pod');
  assert.equal('request_errors' in plain.parts[0]!, false);
});

test('sums skip the request columns of rows without requests and keep those of rows with them', () => {
  const plain = newSide();
  addTcpRecord(plain, record('client'));
  const withRequests = newSide();
  addTcpRecord(withRequests, record('client', { count: 3, errors: 1, by_status: { '2xx': 2, '5xx': 1 }, duration: hist(2, 3) }));
  assert.equal(usedWidth(plain), C.requests);
  assert.equal(usedWidth(withRequests), WIDTH);
  const total = newSide();
  addInto(total, withRequests);
  addInto(total, plain);
  addInto(total, withRequests);
  assert.equal(total[C.opened], 6);
  assert.equal(total[C.requests], 6);
  assert.equal(total[C.requestErrors], 2);
  assert.equal(total[C.request + REQUEST_BUCKETS.length + 1], 6);
});
