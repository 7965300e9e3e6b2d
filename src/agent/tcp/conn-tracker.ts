// ConnTracker: turns lifecycle events and periodic snapshots of the kernel's connection table into
// per-edge deltas. Each connection is attributed to one edge, once; its counters are diffed against
// what was last seen, so edges only grow and nothing is counted twice.
import type { ConnEvent, ConnIdentity, ConnSnapshot, ConnStats } from '../../model/connection.js';
import { FAIL_REASONS, type TcpEdgeIdentity } from '../../model/edge.js';
import { NO_WORKLOAD, type Workload } from '../../model/workload.js';
import type { EdgeTable } from '../edges/table.js';
import type { TcpEdge } from './edge.js';

/** Names the owner of a connection: process name and cgroup label, and both ends' workloads. */
export interface OwnerResolver {
  /** Process name; `comm` is what the kernel saw, empty when it could not tell. */
  process(pid: number, comm: string, socketInode: number): string;
  cgroup(id: number): string;
  /** Workload labels of the local end (container, pod, ...), from caches. */
  local?(id: ConnIdentity): Workload | undefined;
  /** Workload labels of the remote end, by its address. */
  remote?(addr: string): Workload | undefined;
  /** A connection was attributed to `edge` (process details, NAT lookups). */
  opened?(edge: TcpEdge, id: ConnIdentity): void;
}

interface Tracked {
  edge: TcpEdge;
  startNs: number;
  rttSamples: number;
  sent: number;
  received: number;
  retrans: number;
  resetsSent: number;
  resetsReceived: number;
  lastSnapNs: number;
}

export interface TrackerStats {
  tracked: number;
  eventsHandled: number;
  /** Open events inferred because the event itself was lost (ring buffer overflow). */
  opensInferred: number;
  /** Close events inferred because the socket was reused or vanished while events were lost. */
  closesInferred: number;
}

/** Local addresses remembered per edge (a node's, a pod's: few). */
const MAX_LOCAL_ADDRS = 16;

const FAIL_INDEX = Object.fromEntries(FAIL_REASONS.map((r, i) => [r, i])) as Record<(typeof FAIL_REASONS)[number], number>;

export class ConnTracker {
  private readonly conns = new Map<number, Tracked>();
  readonly stats: TrackerStats = { tracked: 0, eventsHandled: 0, opensInferred: 0, closesInferred: 0 };

  constructor(
    private readonly edges: EdgeTable<TcpEdgeIdentity, TcpEdge>,
    private readonly owners: OwnerResolver,
    /** Called for each lifecycle event after accounting (ndjson, live tools). */
    private readonly onLifecycle?: (e: ConnEvent) => void,
  ) {}

  get size(): number {
    return this.conns.size;
  }

  private identity(id: ConnIdentity): TcpEdgeIdentity {
    const role = id.role === 'server' ? 'server' : 'client';
    const peer = id.remoteAddr;
    return {
      role,
      process: this.owners.process(id.pid, id.comm, id.socketInode),
      cgroup: this.owners.cgroup(id.cgroupId),
      peer,
      port: role === 'server' ? id.localPort : id.remotePort,
      local: this.owners.local?.(id) ?? NO_WORKLOAD,
      remote: this.owners.remote?.(peer) ?? NO_WORKLOAD,
    };
  }

  private track(key: number, id: ConnIdentity, baseline: ConnStats | undefined): Tracked {
    const edge = this.edges.get(this.identity(id));
    const t: Tracked = {
      edge,
      startNs: id.startNs,
      sent: baseline?.bytesSent ?? 0,
      received: baseline?.bytesReceived ?? 0,
      retrans: baseline?.retransmits ?? 0,
      resetsSent: baseline?.resetsSent ?? 0,
      resetsReceived: baseline?.resetsReceived ?? 0,
      lastSnapNs: baseline?.readNs ?? 0,
      rttSamples: 0,
    };
    this.conns.set(key, t);
    if (edge.localAddrs.size < MAX_LOCAL_ADDRS) edge.localAddrs.add(id.localAddr);
    this.owners.opened?.(edge, id);
    edge.active++;
    edge.touch();
    return t;
  }

  private untrack(key: number, t: Tracked): void {
    this.conns.delete(key);
    t.edge.active--;
  }

  /** A connection whose socket now carries another one: it closed, though its close event was lost. */
  private retire(key: number, t: Tracked): void {
    t.edge.closed++;
    this.stats.closesInferred++;
    this.untrack(key, t);
  }

  /** Adds what the connection did since last seen to its edge. */
  private apply(t: Tracked, s: ConnStats): void {
    const e = t.edge;
    const sent = s.bytesSent;
    const received = s.bytesReceived;
    const retrans = s.retransmits;
    const rs = s.resetsSent;
    const rr = s.resetsReceived;
    if (sent > t.sent) e.sentBytes += sent - t.sent;
    if (received > t.received) e.receivedBytes += received - t.received;
    if (retrans > t.retrans) e.retransmits += retrans - t.retrans;
    if (rs > t.resetsSent) e.resetsSent += rs - t.resetsSent;
    if (rr > t.resetsReceived) e.resetsReceived += rr - t.resetsReceived;
    t.sent = Math.max(t.sent, sent);
    t.received = Math.max(t.received, received);
    t.retrans = Math.max(t.retrans, retrans);
    t.resetsSent = Math.max(t.resetsSent, rs);
    t.resetsReceived = Math.max(t.resetsReceived, rr);
    e.touch();
  }

  /** Accounts one lifecycle event. */
  handleEvent(ev: ConnEvent): void {
    const id = ev.id;
    const key = id.socket;
    this.stats.eventsHandled++;
    switch (ev.kind) {
      case 'open': {
        const existing = this.conns.get(key);
        if (existing && existing.startNs === id.startNs) break; // already picked up
        if (existing) this.retire(key, existing);
        const t = this.track(key, id, undefined);
        t.edge.opened++;
        const connectNs = ev.stats.connectNs;
        if (id.role === 'client' && connectNs > 0) t.edge.observeConnect(connectNs / 1e9);
        this.apply(t, ev.stats);
        t.lastSnapNs = ev.stats.readNs;
        break;
      }
      case 'close': {
        let t = this.conns.get(key);
        if (t && t.startNs !== id.startNs) {
          this.retire(key, t);
          t = undefined;
        }
        if (!t) {
          const preexisting = id.preexisting;
          // Never seen before: a pre-existing connection's earlier traffic is not ours to count;
          // anything else (a server connection closed before accept(), a lost open event) opened now.
          t = this.track(key, id, preexisting ? ev.stats : undefined);
          if (!preexisting) t.edge.opened++;
        }
        this.apply(t, ev.stats);
        // Connections shorter than an interval still give one RTT sample.
        const srtt = ev.stats.srttUs;
        if (t.rttSamples === 0 && srtt > 0) t.edge.observeRtt(srtt / 1e6);
        t.edge.closed++;
        t.edge.observeDuration(Math.max(0, ev.tsNs - t.startNs) / 1e9);
        this.untrack(key, t);
        break;
      }
      case 'connect_failure': {
        const t = this.conns.get(key);
        if (t) this.untrack(key, t);
        const edge = this.edges.get(this.identity(id));
        edge.failures[FAIL_INDEX[ev.reason]]! += 1;
        // SYN retransmissions and the refusing reset count too (they are in the kernel's counters).
        edge.retransmits += ev.stats.retransmits;
        edge.resetsReceived += ev.stats.resetsReceived;
        edge.touch();
        break;
      }
    }
    this.onLifecycle?.(ev);
  }

  /**
   * Applies a snapshot of the kernel's connection table: call `beginSnapshot`, then `snapshot` for
   * each connection, then `endSnapshot`, after handling the events before it. Events emitted between
   * that flush and the read are still on their way, so a socket the snapshot shows with a connection
   * we do not track yet (or with a newer one than we track) is left to those events. Only with
   * `sweepMissing` (lifecycle events were lost) does the snapshot infer what the lost events would
   * have said: opens of unknown connections, closes of vanished ones.
   */
  beginSnapshot(sweepMissing = false): void {
    this.sweep = sweepMissing ? new Set<number>() : undefined;
  }

  private sweep: Set<number> | undefined;

  snapshot(s: ConnSnapshot): void {
    const id = s.id;
    const key = id.socket;
    const sweepMissing = this.sweep !== undefined;
    this.sweep?.add(key);
    let t = this.conns.get(key);
    if (t && t.startNs !== id.startNs) {
      if (!sweepMissing) return; // the old connection's close event is on its way
      this.retire(key, t);
      t = undefined;
    }
    const stats = s.stats;
    if (!t) {
      if (id.preexisting) {
        t = this.track(key, id, stats); // counting starts now
      } else if (sweepMissing && id.openReported) {
        // Its open event was lost (ring buffer full): count the opening now.
        t = this.track(key, id, undefined);
        t.edge.opened++;
        this.stats.opensInferred++;
      } else {
        return; // connecting, or a server connection not yet accepted: wait for its open event
      }
    }
    const snapNs = stats.readNs;
    this.apply(t, stats);
    if (snapNs > t.lastSnapNs) {
      // Sampled once per interval for connections that had traffic in it.
      const srtt = stats.srttUs;
      if (srtt > 0) {
        t.edge.observeRtt(srtt / 1e6);
        t.rttSamples++;
      }
      t.lastSnapNs = snapNs;
    }
  }

  endSnapshot(): void {
    const seen = this.sweep;
    this.sweep = undefined;
    if (seen) {
      for (const [key, t] of this.conns) {
        if (seen.has(key)) continue;
        this.retire(key, t);
      }
    }
    this.stats.tracked = this.conns.size;
  }
}
