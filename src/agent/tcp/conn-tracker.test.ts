// Connection tracking without the kernel: events and snapshots as the tracer hands them over
// (model records), edges as the agent keeps them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ConnEvent, ConnEventKind, ConnIdentity, ConnStats } from '../../model/connection.js';
import type { FailReason, Role } from '../../model/edge.js';
import { EdgeTable } from '../edges/table.js';
import { ConnTracker, type OwnerResolver } from './conn-tracker.js';
import { tcpEdgeKind, type TcpEdge } from './edge.js';

const owners: OwnerResolver = { process: (_pid, comm) => comm, cgroup: (id) => (id ? `/cg${id}` : '') };

function id(socket: number, startNs: number, o: Partial<ConnIdentity> = {}): ConnIdentity {
  return {
    socket,
    startNs,
    cgroupId: 1,
    socketInode: 0,
    pid: 100,
    netns: 1,
    comm: 'client',
    ipVersion: 4,
    localAddr: '10.0.0.1',
    remoteAddr: '10.0.0.2',
    localPort: 40000 + (socket % 1000),
    remotePort: 80,
    role: 'client' as Role,
    preexisting: false,
    openReported: true,
    ...o,
  };
}

function stats(o: Partial<ConnStats> = {}): ConnStats {
  return { bytesSent: 0, bytesReceived: 0, segsOut: 0, segsIn: 0, connectNs: 0, readNs: 0, retransmits: 0, srttUs: 0, resetsSent: 0, resetsReceived: 0, ...o };
}

function ev(kind: ConnEventKind, i: ConnIdentity, s: ConnStats, tsNs = i.startNs + 1e6, reason: FailReason = 'other'): ConnEvent {
  return { kind, reason, error: 0, tsNs, id: i, stats: s };
}

function setup(): { tracker: ConnTracker; edges: EdgeTable<import('../../model/edge.js').TcpEdgeIdentity, TcpEdge>; edge: () => TcpEdge } {
  const edges = new EdgeTable(tcpEdgeKind, { maxSeries: 100 });
  const tracker = new ConnTracker(edges, owners);
  return { tracker, edges, edge: () => [...edges.values()][0]! };
}

function snapshot(tracker: ConnTracker, conns: Array<{ id: ConnIdentity; stats: ConnStats }>, sweep = false): void {
  tracker.beginSnapshot(sweep);
  for (const c of conns) tracker.snapshot(c);
  tracker.endSnapshot();
}

test('open, traffic seen in snapshots, close: every byte counted once, the edge active while open', () => {
  const { tracker, edge } = setup();
  const c = id(1, 1000);
  tracker.handleEvent(ev('open', c, stats({ connectNs: 2e6, bytesSent: 10, readNs: 5 })));
  assert.equal(edge().opened, 1);
  assert.equal(edge().active, 1);
  assert.equal(edge().connectDuration?.count, 1);
  snapshot(tracker, [{ id: c, stats: stats({ bytesSent: 100, bytesReceived: 50, readNs: 10, srttUs: 300 }) }]);
  snapshot(tracker, [{ id: c, stats: stats({ bytesSent: 100, bytesReceived: 50, readNs: 10, srttUs: 300 }) }]);
  assert.equal(edge().sentBytes, 100, 'a snapshot seen twice adds nothing');
  assert.equal(edge().rtt?.count, 1, 'RTT sampled once per interval with traffic');
  tracker.handleEvent(ev('close', c, stats({ bytesSent: 150, bytesReceived: 80, retransmits: 2, resetsSent: 1 }), 1000 + 3e9));
  const e = edge();
  assert.deepEqual([e.opened, e.closed, e.active, e.sentBytes, e.receivedBytes, e.retransmits, e.resetsSent], [1, 1, 0, 150, 80, 2, 1]);
  assert.equal(e.duration?.count, 1);
  assert.equal(e.duration?.sum, 3, 'lifetime from start to close');
  assert.equal(tracker.size, 0);
});

test('a reused socket: a new connection on the same socket retires the old one (its close was lost) and counts separately', () => {
  const { tracker, edge } = setup();
  tracker.handleEvent(ev('open', id(7, 1000), stats({ bytesSent: 5 })));
  tracker.handleEvent(ev('open', id(7, 2000), stats({ bytesSent: 3 })));
  const e = edge();
  assert.equal(e.opened, 2);
  assert.equal(e.closed, 1, 'the first connection closed although its event never came');
  assert.equal(e.active, 1);
  assert.equal(e.sentBytes, 8, 'the new connection starts from its own zero');
  assert.equal(tracker.stats.closesInferred, 1);
  // Its close event: only the new connection closes.
  tracker.handleEvent(ev('close', id(7, 2000), stats({ bytesSent: 3 })));
  assert.deepEqual([e.opened, e.closed, e.active, e.sentBytes], [2, 2, 0, 8]);
});

test('a snapshot showing a newer connection on a tracked socket waits for the events unless events were lost', () => {
  const { tracker, edge } = setup();
  tracker.handleEvent(ev('open', id(9, 1000), stats()));
  snapshot(tracker, [{ id: id(9, 5000), stats: stats({ bytesSent: 40 }) }]);
  assert.deepEqual([edge().opened, edge().closed, edge().sentBytes], [1, 0, 0], 'the old close event is on its way');
  snapshot(tracker, [{ id: id(9, 5000), stats: stats({ bytesSent: 40 }) }], true);
  assert.deepEqual([edge().opened, edge().closed, edge().sentBytes], [2, 1, 40], 'events were lost: the old one closed, the new one opened');
  assert.equal(tracker.stats.opensInferred, 1);
});

test('lost events: a sweep infers opens of unknown connections and closes of vanished ones', () => {
  const { tracker, edge } = setup();
  tracker.handleEvent(ev('open', id(1, 100), stats()));
  tracker.handleEvent(ev('open', id(2, 200), stats()));
  // Socket 2 closed and socket 3 opened while the ring buffer was full.
  snapshot(tracker, [{ id: id(1, 100), stats: stats({ bytesSent: 1 }) }, { id: id(3, 300), stats: stats({ bytesSent: 7 }) }], true);
  const e = edge();
  assert.deepEqual([e.opened, e.closed, e.active], [3, 1, 2]);
  assert.equal(e.sentBytes, 8);
  assert.deepEqual([tracker.stats.opensInferred, tracker.stats.closesInferred], [1, 1]);
});

test('without lost events, a connection whose open is not reported yet is left to its event; a pre-existing one is counted from now on', () => {
  const { tracker, edge, edges } = setup();
  snapshot(tracker, [{ id: id(4, 100, { openReported: false }), stats: stats({ bytesSent: 10 }) }]);
  assert.equal(edges.size, 0, 'connecting: nothing counted yet');
  snapshot(tracker, [{ id: id(5, 100, { preexisting: true, openReported: false }), stats: stats({ bytesSent: 1000, readNs: 1 }) }]);
  assert.deepEqual([edge().opened, edge().active, edge().sentBytes], [0, 1, 0], 'its past traffic is not ours to count');
  snapshot(tracker, [{ id: id(5, 100, { preexisting: true }), stats: stats({ bytesSent: 1500, readNs: 2 }) }]);
  assert.equal(edge().sentBytes, 500);
  tracker.handleEvent(ev('close', id(5, 100, { preexisting: true }), stats({ bytesSent: 1600 })));
  assert.deepEqual([edge().opened, edge().closed, edge().active, edge().sentBytes], [0, 1, 0, 600]);
});

test('a close of a connection never seen (closed before accept) counts as opened and closed; a pre-existing one only as closed', () => {
  const { tracker, edges } = setup();
  tracker.handleEvent(ev('close', id(11, 100, { role: 'server', comm: 'srv' }), stats({ bytesReceived: 5 })));
  tracker.handleEvent(ev('close', id(12, 100, { preexisting: true, comm: 'old' }), stats({ bytesSent: 99 })));
  const byProcess = new Map([...edges.values()].map((e) => [e.identity.process, e]));
  const srv = byProcess.get('srv')!;
  assert.deepEqual([srv.identity.role, srv.identity.port, srv.opened, srv.closed, srv.receivedBytes], ['server', 40011, 1, 1, 5]);
  const old = byProcess.get('old')!;
  assert.deepEqual([old.opened, old.closed, old.sentBytes], [0, 1, 0]);
});

test('connect failures count by reason on the client edge with their SYN retransmits and the refusing reset', () => {
  const { tracker, edge } = setup();
  tracker.handleEvent(ev('connect_failure', id(20, 100), stats({ retransmits: 0, resetsReceived: 1 }), 200, 'refused'));
  tracker.handleEvent(ev('connect_failure', id(21, 100), stats({ retransmits: 6 }), 200, 'timeout'));
  const e = edge();
  assert.deepEqual([...e.failures], [0, 1, 1, 0, 0]);
  assert.equal(e.retransmits, 6);
  assert.equal(e.resetsReceived, 1);
  assert.equal(e.opened, 0);
});

test('the server port is the local port, the client port the remote one; peers and processes make edges', () => {
  const { tracker, edges } = setup();
  tracker.handleEvent(ev('open', id(30, 1, { role: 'server', localPort: 8080, remotePort: 51000, comm: 'srv' }), stats()));
  tracker.handleEvent(ev('open', id(31, 1, { remotePort: 5432, remoteAddr: '10.0.0.9' }), stats()));
  const ids = [...edges.values()].map((e) => `${e.identity.role} ${e.identity.process} ${e.identity.peer}:${e.identity.port}`).sort();
  assert.deepEqual(ids, ['client client 10.0.0.9:5432', 'server srv 10.0.0.2:8080']);
});
