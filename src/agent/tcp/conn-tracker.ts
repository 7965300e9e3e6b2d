// ConnTracker: turns lifecycle events and periodic snapshots of the kernel's connection map into
// per-edge deltas. Each connection is attributed to one edge, once; its counters are diffed against
// what was last seen, so edges only grow and nothing is counted twice.
import { ConnEventView, ConnValueView, ConnEventType, ConnFlags, ConnRole, type ConnIdView, type ConnStatsView } from '../../bpf/gen/tcp.gen.js';
import { skKeyAt, EVENT_SK_OFFSET, VALUE_SK_OFFSET } from './keys.js';
import type { MapBatch, RecordBatch } from '../../bpf/index.js';
import { formatAddr } from '../net/addr.js';
import { FAIL_REASONS } from './metrics.js';
import type { Edge, EdgeIdentity, EdgeTable, EndLabels } from './edges.js';

/** Names the owner of a connection: process name and cgroup label. */
export interface OwnerResolver {
  /** Process name; `comm` is what the kernel saw, empty when it could not tell. */
  process(pid: number, comm: string, sockIno: number): string;
  cgroup(id: number): string;
  /** Workload labels of the local end (container, pod, ...), from caches. */
  local?(id: ConnIdView): EndLabels | undefined;
  /** Workload labels of the remote end, by its address. */
  remote?(id: ConnIdView, peer: string): EndLabels | undefined;
  /** A connection was attributed to `edge` (process details, NAT lookups). */
  opened?(edge: Edge, id: ConnIdView): void;
}

interface Tracked {
  edge: Edge;
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

export class ConnTracker {
  private readonly conns = new Map<number, Tracked>();
  private readonly event = new ConnEventView();
  private readonly value = new ConnValueView();
  readonly stats: TrackerStats = { tracked: 0, eventsHandled: 0, opensInferred: 0, closesInferred: 0 };

  constructor(
    private readonly edges: EdgeTable,
    private readonly owners: OwnerResolver,
    /** Called for each lifecycle event after accounting (ndjson, live tools). */
    private readonly onLifecycle?: (e: ConnEventView) => void,
  ) {}

  get size(): number {
    return this.conns.size;
  }

  private identity(id: ConnIdView): EdgeIdentity {
    const role = id.role === ConnRole.ROLE_SERVER ? 'server' : 'client';
    const peer = formatAddr(id.family, id.daddr);
    return {
      role,
      process: this.owners.process(id.pid, id.comm, id.sock_ino),
      cgroup: this.owners.cgroup(id.cgroup_id),
      peer,
      port: role === 'server' ? id.sport : id.dport,
      local: this.owners.local?.(id),
      remote: this.owners.remote?.(id, peer),
    };
  }

  private track(key: number, id: ConnIdView, baseline: ConnStatsView | undefined): Tracked {
    const edge = this.edges.get(this.identity(id));
    const t: Tracked = {
      edge,
      startNs: id.start_ns,
      sent: baseline?.bytes_sent ?? 0,
      received: baseline?.bytes_received ?? 0,
      retrans: baseline?.retrans ?? 0,
      resetsSent: baseline?.resets_sent ?? 0,
      resetsReceived: baseline?.resets_received ?? 0,
      lastSnapNs: baseline?.last_ns ?? 0,
      rttSamples: 0,
    };
    this.conns.set(key, t);
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
  private apply(t: Tracked, s: ConnStatsView): void {
    const e = t.edge;
    const sent = s.bytes_sent;
    const received = s.bytes_received;
    const retrans = s.retrans;
    const rs = s.resets_sent;
    const rr = s.resets_received;
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

  /** Handles a batch of lifecycle events from the ring buffer. */
  handleEvents(batch: RecordBatch): void {
    batch.forEach((view, offset, length) => {
      if (length < ConnEventView.size) return;
      this.handleEvent(view, offset);
    });
  }

  private handleEvent(view: DataView, offset: number): void {
    const ev = this.event.at(view, offset);
    const id = ev.id;
    const key = skKeyAt(view, offset + EVENT_SK_OFFSET);
    this.stats.eventsHandled++;
    switch (ev.type) {
      case ConnEventType.EV_OPEN: {
        const existing = this.conns.get(key);
        if (existing && existing.startNs === id.start_ns) break; // already picked up
        if (existing) this.retire(key, existing);
        const t = this.track(key, id, undefined);
        t.edge.opened++;
        if (id.role === ConnRole.ROLE_CLIENT && ev.stats.connect_ns > 0) t.edge.observeConnect(ev.stats.connect_ns / 1e9);
        this.apply(t, ev.stats);
        t.lastSnapNs = ev.stats.last_ns;
        break;
      }
      case ConnEventType.EV_CLOSE: {
        let t = this.conns.get(key);
        if (t && t.startNs !== id.start_ns) {
          this.retire(key, t);
          t = undefined;
        }
        if (!t) {
          const preexisting = (id.flags & ConnFlags.CONN_F_PREEXISTING) !== 0;
          // Never seen before: a pre-existing connection's earlier traffic is not ours to count;
          // anything else (a server connection closed before accept(), a lost open event) opened now.
          t = this.track(key, id, preexisting ? ev.stats : undefined);
          if (!preexisting) t.edge.opened++;
        }
        this.apply(t, ev.stats);
        // Connections shorter than an interval still give one RTT sample.
        if (t.rttSamples === 0 && ev.stats.srtt_us > 0) t.edge.observeRtt(ev.stats.srtt_us / 1e6);
        t.edge.closed++;
        t.edge.observeDuration(Math.max(0, ev.ts_ns - t.startNs) / 1e9);
        this.untrack(key, t);
        break;
      }
      case ConnEventType.EV_CONNECT_FAIL: {
        const t = this.conns.get(key);
        if (t) this.untrack(key, t);
        const edge = this.edges.get(this.identity(id));
        edge.failures[Math.min(ev.reason, FAIL_REASONS.length - 1)]! += 1;
        // SYN retransmissions and the refusing reset count too (they are in the kernel's counters).
        edge.retransmits += ev.stats.retrans;
        edge.resetsReceived += ev.stats.resets_received;
        edge.touch();
        break;
      }
      default:
        return;
    }
    this.onLifecycle?.(ev);
  }

  /**
   * Applies a snapshot of the kernel's connection map. Call after handling the events before it.
   * Events emitted between that flush and the map read are still on their way, so a socket the
   * snapshot shows with a connection we do not track yet (or with a newer one than we track) is left
   * to those events. Only with `sweepMissing` (lifecycle events were lost) does the snapshot infer
   * what the lost events would have said: opens of unknown connections, closes of vanished ones.
   */
  handleSnapshot(batch: MapBatch, sweepMissing = false): void {
    const v = this.value;
    const seen = sweepMissing ? new Set<number>() : undefined;
    for (let i = 0; i < batch.count; i++) {
      const off = batch.valueOffset(i);
      v.at(batch.values, off);
      const id = v.id;
      const key = skKeyAt(batch.values, off + VALUE_SK_OFFSET);
      seen?.add(key);
      let t = this.conns.get(key);
      if (t && t.startNs !== id.start_ns) {
        if (!sweepMissing) continue; // the old connection's close event is on its way
        this.retire(key, t);
        t = undefined;
      }
      if (!t) {
        const flags = id.flags;
        if (flags & ConnFlags.CONN_F_PREEXISTING) {
          t = this.track(key, id, v.stats); // counting starts now
        } else if (sweepMissing && flags & ConnFlags.CONN_F_OPEN_EMITTED) {
          // Its open event was lost (ring buffer full): count the opening now.
          t = this.track(key, id, undefined);
          t.edge.opened++;
          this.stats.opensInferred++;
        } else {
          continue; // connecting, or a server connection not yet accepted: wait for its open event
        }
      }
      const stats = v.stats;
      const snapNs = stats.last_ns;
      this.apply(t, stats);
      if (snapNs > t.lastSnapNs) {
        // Sampled once per interval for connections that had traffic in it.
        if (stats.srtt_us > 0) {
          t.edge.observeRtt(stats.srtt_us / 1e6);
          t.rttSamples++;
        }
        t.lastSnapNs = snapNs;
      }
    }
    if (seen) {
      for (const [key, t] of this.conns) {
        if (seen.has(key)) continue;
        this.retire(key, t);
      }
    }
    this.stats.tracked = this.conns.size;
  }
}
