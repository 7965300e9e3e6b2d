import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { EdgeTally } from '../../model/connection.js';
import { CONNECT_BUCKETS, DURATION_BUCKETS, RTT_BUCKETS } from '../../model/distribution.js';
import type { TcpEdgeIdentity } from '../../model/edge.js';
import { NO_WORKLOAD } from '../../model/workload.js';
import { EdgeTable } from '../edges/table.js';
import { TcpEdgeCredit, type RawTally } from './edge-credit.js';
import { tcpEdgeKind, type TcpEdge } from './edge.js';
import { EdgeTallyReader, TALLY_WORDS } from './records.js';

const F = EdgeTallyReader.fields;

/** A kernel tally as the tracer reads it: cumulative values, and an owner and peer. */
function tally(owner: { pid?: number; comm?: string; peer?: string; port?: number; role?: 'client' | 'server'; local?: string }, set: Partial<Record<keyof typeof F, number>>, extra: (v: Float64Array) => void = () => {}): RawTally {
  const values = new Float64Array(TALLY_WORDS);
  for (const [k, v] of Object.entries(set)) values[F[k as keyof typeof F]] = v!;
  extra(values);
  const dist = { bounds: [], counts: [], sum: 0, count: 0 };
  return {
    values,
    role: owner.role ?? 'client',
    pid: owner.pid ?? 1,
    comm: owner.comm ?? 'app',
    cgroupId: 0,
    peer: owner.peer ?? '10.0.0.9',
    port: owner.port ?? 443,
    localAddr: owner.local ?? '10.0.0.1',
    opened: values[F.opened]!,
    adopted: values[F.adopted]!,
    closed: values[F.closed]!,
    untracked: values[F.untracked]!,
    failures: (r) => values[F.failures + r]!,
    sentBytes: values[F.bytes_sent]!,
    receivedBytes: values[F.bytes_received]!,
    retransmits: values[F.retrans]!,
    resetsSent: values[F.resets_sent]!,
    resetsReceived: values[F.resets_received]!,
    lastNs: values[F.last_ns]!,
    connect: dist,
    rtt: dist,
    duration: dist,
  };
}

function setup(resolve?: (t: EdgeTally) => TcpEdgeIdentity): { credit: TcpEdgeCredit; edges: EdgeTable<TcpEdgeIdentity, TcpEdge> } {
  const edges = new EdgeTable(tcpEdgeKind, { maxSeries: 100 });
  const byOwner = (t: EdgeTally): TcpEdgeIdentity => ({ role: t.role, process: t.comm, cgroup: '', peer: t.peer, port: t.port, local: NO_WORKLOAD, remote: NO_WORKLOAD });
  return { credit: new TcpEdgeCredit(edges, resolve ?? byOwner, F, TALLY_WORDS), edges };
}

const only = (edges: EdgeTable<TcpEdgeIdentity, TcpEdge>): TcpEdge => {
  const all = [...edges.values()];
  assert.equal(all.length, 1);
  return all[0]!;
};

test('cumulative kernel counts are credited once: what grew since the last read, whatever the number of reads', () => {
  const { credit, edges } = setup();
  const now = 5e9;
  credit.begin();
  credit.credit('k', tally({}, { opened: 3, closed: 1, bytes_sent: 100, last_ns: now }), now, 60e9);
  credit.finish();
  credit.begin();
  credit.credit('k', tally({}, { opened: 3, closed: 1, bytes_sent: 100, last_ns: now }), now, 60e9);
  credit.credit('k', tally({}, { opened: 5, closed: 4, bytes_sent: 250, retrans: 2, last_ns: now }), now, 60e9);
  credit.finish();
  const e = only(edges);
  assert.deepEqual([e.opened, e.closed, e.active, e.sentBytes, e.retransmits], [5, 4, 1, 250, 2]);
});

test('active is opened + adopted - closed - untracked; an entry idle with nothing open may leave, its last counts credited', () => {
  const { credit, edges } = setup();
  credit.begin();
  assert.equal(credit.credit('k', tally({}, { adopted: 2, opened: 1, untracked: 1, last_ns: 1e9 }), 2e9, 60e9), false, 'open connections: stays');
  credit.finish();
  assert.equal(only(edges).active, 2);
  credit.begin();
  assert.equal(credit.credit('k', tally({}, { adopted: 2, opened: 1, untracked: 1, closed: 2, last_ns: 3e9 }), 100e9, 60e9), true, 'nothing open and idle for a minute: may leave');
  credit.retire('k', tally({}, { adopted: 2, opened: 1, untracked: 1, closed: 2, bytes_received: 7, last_ns: 3e9 }));
  credit.finish();
  const e = only(edges);
  assert.deepEqual([e.adopted, e.opened, e.closed, e.untracked, e.active, e.receivedBytes], [2, 1, 2, 1, 0, 7]);
  assert.equal(credit.size, 0);
  assert.equal(credit.stats.evicted, 1);
});

test('an entry whose edge names change (a workload named later) moves to the new edge with the connections it holds open', () => {
  let named = false;
  const { credit, edges } = setup((t) => ({ role: t.role, process: t.comm, cgroup: '', peer: t.peer, port: t.port, local: NO_WORKLOAD, remote: named ? { ...NO_WORKLOAD, key: 'pod-b', pod: 'b' } : NO_WORKLOAD }));
  credit.begin();
  credit.credit('k', tally({}, { opened: 2, last_ns: 1e9 }), 1e9, 60e9);
  credit.finish();
  named = true;
  credit.begin();
  credit.credit('k', tally({}, { opened: 3, closed: 1, last_ns: 2e9 }), 2e9, 60e9);
  credit.finish();
  const [before, after] = [...edges.values()];
  assert.deepEqual([before!.opened, before!.active], [2, 0], 'the old edge keeps its counts, not its open connections');
  assert.deepEqual([after!.identity.remote.pod, after!.opened, after!.closed, after!.active], ['b', 1, 1, 2]);
});

test('distributions: bucket and sum growth become histogram observations; failures by reason', () => {
  const { credit, edges } = setup();
  credit.begin();
  credit.credit(
    'k',
    tally({}, { connect_sum_ns: 3e6, duration_sum_ns: 2e9, rtt_sum_us: 150, last_ns: 1 }, (v) => {
      v[F.connect_buckets + 4] = 2; // two connects in (1 ms, 2.5 ms]
      v[F.connect_buckets + CONNECT_BUCKETS.length] = 1; // one above every bound
      v[F.duration_buckets + 4] = 1;
      v[F.rtt_buckets + 2] = 3;
      v[F.failures + 1] = 4;
    }),
    1,
    60e9,
  );
  credit.finish();
  const e = only(edges);
  assert.equal(e.connectDuration!.count, 3);
  assert.equal(e.connectDuration!.counts[4], 2);
  assert.equal(e.connectDuration!.sum, 0.003);
  assert.equal(e.duration!.count, 1);
  assert.equal(e.duration!.bounds, DURATION_BUCKETS);
  assert.equal(e.rtt!.count, 3);
  assert.equal(e.rtt!.bounds, RTT_BUCKETS);
  assert.deepEqual([...e.failures], [0, 4, 0, 0, 0]);
});

test("the kernel's overflow slots (its edge map was full) count under a roll-up edge of their role; none while empty", () => {
  const { credit, edges } = setup();
  credit.begin();
  credit.creditOverflow('server', tally({ role: 'server' }, {}));
  assert.equal(edges.size, 0, 'nothing overflowed: no roll-up edge');
  credit.creditOverflow('server', tally({ role: 'server' }, { opened: 4, closed: 1, last_ns: 1 }));
  credit.finish();
  const e = only(edges);
  assert.deepEqual([e.identity.role, e.identity.peer, e.opened, e.active], ['server', 'other', 4, 3]);
  assert.equal(credit.stats.overflowed, 4);
});

test("an edge's local addresses are its kernel entries' (what the hub joins on); an edge forgotten while idle is made anew by the next change", () => {
  const { credit, edges } = setup();
  credit.begin();
  credit.credit('k1', tally({ local: '10.0.0.1' }, { opened: 1, last_ns: 1 }), 1, 60e9);
  credit.credit('k2', tally({ local: '192.168.7.1' }, { opened: 1, last_ns: 1 }), 1, 60e9);
  credit.finish();
  assert.deepEqual([...only(edges).localAddrs].sort(), ['10.0.0.1', '192.168.7.1']);
  credit.begin();
  credit.credit('k1', tally({ local: '10.0.0.1' }, { opened: 1, closed: 1, last_ns: 2 }), 2, 60e9);
  credit.credit('k2', tally({ local: '192.168.7.1' }, { opened: 1, closed: 1, last_ns: 2 }), 2, 60e9);
  credit.finish();
  assert.equal(edges.evictIdle(0, Date.now() + 1), 1);
  credit.begin();
  credit.credit('k1', tally({ local: '10.0.0.1' }, { opened: 2, closed: 1, last_ns: 3 }), 3, 60e9);
  credit.credit('k2', tally({ local: '192.168.7.1' }, { opened: 1, closed: 1, last_ns: 2 }), 3, 60e9);
  credit.finish();
  const e = only(edges);
  assert.deepEqual([e.opened, e.active, [...e.localAddrs]], [1, 1, ['10.0.0.1']]);
});
