import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CONNECT_BUCKETS } from '../../model/distribution.js';
import { FAIL_REASONS } from '../../model/edge.js';
import { Histogram } from '../../lib/histogram.js';
import { REQUEST_BUCKETS } from '../../model/requests.js';
import { HubBatchBuilder, type RequestEdgeReading, type TcpEdgeReading } from './hub-batch.js';

const losses = { events: {}, rolled_up: 0, flows: {}, batches_dropped: 0 };
const run = { agent: 'node-a', node: 'node-a', start: '2026-01-01T00:00:00.000Z' };
const t0 = Date.parse(run.start);

function edge(): TcpEdgeReading & { opened: number; sentBytes: number; active: number } {
  const counts = new Float64Array(CONNECT_BUCKETS.length);
  const connect = { bounds: CONNECT_BUCKETS, counts, sum: 0, count: 0 };
  return {
    identity: {
      role: 'client',
      process: 'curl',
      cgroup: '/user.slice',
      peer: '10.0.0.2',
      port: 80,
      local: { key: '1', container: '', pod: 'web-1', namespace: 'shop', workload: 'web', service: '', info: { version: 'v3', node: 'node-a' } },
      remote: { key: '', container: '', pod: '', namespace: '', workload: '', service: '' },
    },
    localAddrs: new Set(['10.0.0.1']),
    opened: 0,
    closed: 0,
    active: 0,
    failures: new Float64Array(FAIL_REASONS.length),
    sentBytes: 0,
    receivedBytes: 0,
    retransmits: 0,
    resetsSent: 0,
    resetsReceived: 0,
    connectDuration: connect,
    rtt: undefined,
    duration: undefined,
  };
}

test('batches carry each interval\'s change, skip idle edges and number intervals from 1', () => {
  const b = new HubBatchBuilder(run);
  const e = edge();
  e.opened = 3;
  e.sentBytes = 300;
  e.active = 1;
  e.failures[FAIL_REASONS.indexOf('refused')] = 2;
  (e.connectDuration!.counts as Float64Array)[2] = 3;
  Object.assign(e.connectDuration!, { count: 3, sum: 0.0012 });
  const first = b.build(t0 + 1000, { tcp: [e] }, losses);
  assert.equal(first.seq, 1);
  assert.equal(first.from, run.start);
  assert.equal(first.tcp.length, 1);
  const r = first.tcp[0]!;
  assert.deepEqual([r.opened, r.bytes_sent, r.active, r.failures], [3, 300, 1, { refused: 2 }]);
  assert.deepEqual(r.local, { pod: 'web-1', namespace: 'shop', workload: 'web', version: 'v3', node: 'node-a' });
  assert.deepEqual(r.local_addrs, ['10.0.0.1']);
  assert.equal(r.connect!.count, 3);
  // Nothing happened: no record; the gauge alone changing is a record.
  const idle = b.build(t0 + 2000, { tcp: [e] }, losses);
  assert.equal(idle.seq, 2);
  assert.equal(idle.from, first.to);
  assert.deepEqual(idle.tcp, []);
  e.active = 0;
  e.opened = 5;
  const third = b.build(t0 + 3000, { tcp: [e] }, losses);
  assert.deepEqual([third.tcp[0]!.opened, third.tcp[0]!.active, third.tcp[0]!.bytes_sent, third.tcp[0]!.failures, third.tcp[0]!.connect], [2, 0, 0, undefined, undefined]);
});

test('an edge the table forgot starts from zero when it comes back', () => {
  const b = new HubBatchBuilder(run);
  const e = edge();
  e.opened = 4;
  b.build(t0 + 1000, { tcp: [e] }, losses);
  b.build(t0 + 2000, { tcp: [] }, losses);
  const again = edge();
  again.opened = 1;
  assert.equal(b.build(t0 + 3000, { tcp: [again] }, losses).tcp[0]!.opened, 1);
});

/** A request edge of the TCP edge above (TLS or not) with HTTP series by status and gRPC calls by code. */
function requestEdge(tls: boolean, http: Record<string, number>, grpc: Record<string, number> = {}): RequestEdgeReading {
  const timed = (n: number, seconds: number): Histogram => {
    const h = new Histogram(REQUEST_BUCKETS);
    for (let i = 0; i < n; i++) h.observe(seconds);
    return h;
  };
  const { identity } = edge();
  return {
    identity: { ...identity, tls },
    http: new Map(Object.entries(http).map(([status, count]) => [status, { method: 'GET', status, route: '/a', count, duration: timed(count, 0.002) }])),
    grpc: new Map(Object.entries(grpc).map(([code, count]) => [code, { service: 'shop.Cart', method: 'Add', code, count, duration: timed(count, 0.02) }])),
  };
}

test('requests travel with the TCP edge they belong to: by status class or gRPC code, errors, durations, as deltas', () => {
  const b = new HubBatchBuilder(run);
  const e = edge();
  e.opened = 1;
  e.sentBytes = 500;
  const first = b.build(t0 + 1000, { tcp: [e], requests: [requestEdge(false, { '200': 3, '404': 1, '503': 2 }), requestEdge(true, { '201': 1 }, { OK: 2, UNAVAILABLE: 1, none: 1 })] }, losses);
  const r = first.tcp[0]!.requests!;
  assert.deepEqual(r.by_status, { '2xx': 4, '4xx': 1, '5xx': 2, 'grpc:OK': 2, 'grpc:UNAVAILABLE': 1, none: 1 });
  assert.equal(r.count, 11);
  assert.equal(r.errors, 3, '5xx and gRPC codes other than OK');
  assert.equal(r.duration!.count, 11);
  assert.equal(r.duration!.counts[REQUEST_BUCKETS.indexOf(0.0025)], 7, 'HTTP requests of 2 ms in the 2.5 ms bucket');
  // Only what grew since: two more 200s on the same connection (no other change on the TCP edge but bytes).
  e.sentBytes = 700;
  const second = b.build(t0 + 2000, { tcp: [e], requests: [requestEdge(false, { '200': 5, '404': 1, '503': 2 }), requestEdge(true, { '201': 1 }, { OK: 2, UNAVAILABLE: 1, none: 1 })] }, losses);
  assert.deepEqual(second.tcp[0]!.requests, { count: 2, errors: 0, by_status: { '2xx': 2 }, duration: second.tcp[0]!.requests!.duration });
  assert.equal(second.tcp[0]!.requests!.duration!.count, 2);
  // No new requests: none sent.
  e.sentBytes = 800;
  assert.equal(b.build(t0 + 3000, { tcp: [e], requests: [requestEdge(false, { '200': 5, '404': 1, '503': 2 }), requestEdge(true, { '201': 1 }, { OK: 2, UNAVAILABLE: 1, none: 1 })] }, losses).tcp[0]!.requests, undefined);
  // A request edge of another TCP edge (another peer) does not land on this one.
  const other = requestEdge(false, { '500': 9 });
  e.sentBytes = 900;
  const fourth = b.build(t0 + 4000, { tcp: [e], requests: [{ ...other, identity: { ...other.identity, peer: '10.9.9.9' } }, requestEdge(false, { '200': 5, '404': 1, '503': 2 }), requestEdge(true, { '201': 1 }, { OK: 2, UNAVAILABLE: 1, none: 1 })] }, losses);
  assert.equal(fourth.tcp[0]!.requests, undefined);
});

test('flows, drops and DNS become deltas too', () => {
  const b = new HubBatchBuilder(run);
  const flow = { identity: { direction: 'egress' as const, protocol: 'udp', interface: 'eth0', peer: '1.1.1.1', port: 53, peerDns: 'one.one.one.one' }, packets: 10, bytes: 800 };
  const dns = { identity: { qtype: 'A', server: '1.1.1.1', client: { key: '', container: '', pod: '', namespace: '', workload: '', service: '' } }, byRcode: new Map([['NOERROR', 4]]), duration: undefined };
  const one = b.build(t0 + 1000, { flows: [flow], dns: [dns] }, losses);
  assert.deepEqual(one.flows, [{ direction: 'egress', protocol: 'udp', interface: 'eth0', peer: '1.1.1.1', port: 53, peer_dns: 'one.one.one.one', packets: 10, bytes: 800 }]);
  assert.deepEqual(one.dns[0]!.rcodes, { NOERROR: 4 });
  flow.packets = 15;
  flow.bytes = 1200;
  dns.byRcode.set('NXDOMAIN', 1);
  const two = b.build(t0 + 2000, { flows: [flow], dns: [dns] }, losses);
  assert.deepEqual([two.flows[0]!.packets, two.flows[0]!.bytes], [5, 400]);
  assert.deepEqual(two.dns[0]!.rcodes, { NXDOMAIN: 1 });
});
