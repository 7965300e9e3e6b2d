// Kernel edge entries into the agent's TCP edges. Every interval each entry's counts (cumulative,
// summed over CPUs) are compared with what was credited before and the growth goes to the entry's
// edge: the agent pays per edge per interval, whatever the number of connections behind it. An
// entry's edge is resolved again whenever it moved (workload names may arrive after its first
// connection); the connections it holds open move with it.
import type { EdgeTally } from '../../model/connection.js';
import { CONNECT_BUCKETS, DURATION_BUCKETS, RTT_BUCKETS } from '../../model/distribution.js';
import { FAIL_REASONS, ROLLUP_PEER, type Role, type TcpEdgeIdentity } from '../../model/edge.js';
import { NO_WORKLOAD } from '../../model/workload.js';
import { Histogram } from '../../lib/histogram.js';
import type { EdgeTable } from '../edges/table.js';
import type { TcpEdge } from './edge.js';
import type { EdgeTallyReader } from './records.js';

/** A tally as the tracer reads it: the model's view plus its raw values and key. */
export interface RawTally extends EdgeTally {
  readonly values: Float64Array;
}

/** Where each counter of a tally's values is. */
export type TallyFields = typeof EdgeTallyReader.fields;

interface Entry {
  edge: TcpEdge;
  /** Values credited so far. */
  credited: Float64Array;
  /** Its connections open now (opened + adopted - closed - untracked), counted in edge.active. */
  active: number;
  lastNs: number;
  seen: number;
}

/** Local addresses remembered per edge (a node's, a pod's: few). */
const MAX_LOCAL_ADDRS = 16;

function noteLocal(edge: TcpEdge, addr: string): void {
  if (addr && edge.localAddrs.size < MAX_LOCAL_ADDRS) edge.localAddrs.add(addr);
}

export interface CreditStats {
  /** Kernel edge entries followed now. */
  entries: number;
  /** Entries taken out of the kernel map after being idle with nothing open. */
  evicted: number;
  /** Connections counted in the kernel's overflow slots (the edge map was full). */
  overflowed: number;
}

function addHistogram(h: Histogram, delta: Float64Array, bucketsAt: number, n: number, sumDelta: number, unit: number): void {
  let count = 0;
  for (let i = 0; i <= n; i++) {
    const d = delta[bucketsAt + i]!;
    if (d <= 0) continue;
    if (i < n) h.counts[i]! += d;
    count += d;
  }
  h.count += count;
  h.sum += sumDelta * unit;
}

export class TcpEdgeCredit {
  private readonly entries = new Map<string, Entry>();
  private readonly delta: Float64Array;
  private reads = 0;
  readonly stats: CreditStats = { entries: 0, evicted: 0, overflowed: 0 };

  constructor(
    private readonly edges: EdgeTable<TcpEdgeIdentity, TcpEdge>,
    private readonly resolve: (t: EdgeTally) => TcpEdgeIdentity,
    private readonly f: TallyFields,
    words: number,
  ) {
    this.delta = new Float64Array(words);
  }

  get size(): number {
    return this.entries.size;
  }

  /** Starts a read of the kernel map: entries not credited until finish() are gone from it. */
  begin(): void {
    this.reads++;
  }

  /**
   * Credits what entry `key` counted since last seen. Returns whether the entry may leave the kernel
   * map: nothing open on it and no change for `idleNs`.
   */
  credit(key: string, t: RawTally, nowNs: number, idleNs: number): boolean {
    let e = this.entries.get(key);
    if (!e) {
      const identity = this.resolve(t);
      e = { edge: this.edges.get(identity), credited: new Float64Array(t.values.length), active: 0, lastNs: 0, seen: 0 };
      noteLocal(e.edge, t.localAddr);
      this.entries.set(key, e);
    }
    e.seen = this.reads;
    this.apply(e, t);
    return e.active <= 0 && nowNs - e.lastNs > idleNs;
  }

  /** Credits an entry's last counts as it leaves the kernel map, and forgets it. */
  retire(key: string, t: RawTally | undefined): void {
    const e = this.entries.get(key);
    if (!e) return;
    if (t) this.apply(e, t);
    this.entries.delete(key);
    this.stats.evicted++;
  }

  /** A role's overflow slot: counted under a roll-up edge of that role. */
  creditOverflow(role: Role, t: RawTally): void {
    const key = `overflow:${role}`;
    let e = this.entries.get(key);
    if (!e) {
      if (t.values.every((v) => v === 0)) return; // nothing ever overflowed: no roll-up edge
      const identity: TcpEdgeIdentity = { role, process: '', cgroup: '', peer: ROLLUP_PEER, port: 0, local: NO_WORKLOAD, remote: NO_WORKLOAD };
      e = { edge: this.edges.get(identity), credited: new Float64Array(t.values.length), active: 0, lastNs: 0, seen: 0 };
      this.entries.set(key, e);
    }
    e.seen = this.reads;
    const before = e.credited[this.f.opened]! + e.credited[this.f.adopted]!;
    this.apply(e, t, false);
    this.stats.overflowed += e.credited[this.f.opened]! + e.credited[this.f.adopted]! - before;
  }

  /** Ends a read: entries the kernel map no longer has are forgotten (their edges keep their counts). */
  finish(): void {
    for (const [key, e] of this.entries) if (e.seen !== this.reads && !key.startsWith('overflow:')) this.entries.delete(key);
    this.stats.entries = this.entries.size;
  }

  private apply(e: Entry, t: RawTally, reresolve = true): void {
    const f = this.f;
    const v = t.values;
    const d = this.delta;
    let moved = false;
    for (let i = 0; i < v.length; i++) {
      const x = v[i]! - e.credited[i]!;
      d[i] = x > 0 ? x : 0;
      if (x > 0 && i !== f.last_ns) moved = true;
    }
    if (!moved) return;
    e.credited.set(v);
    e.lastNs = v[f.last_ns]!;
    if (reresolve) this.rehome(e, t);
    const edge = e.edge;
    const active = d[f.opened]! + d[f.adopted]! - d[f.closed]! - d[f.untracked]!;
    e.active += active;
    edge.active += active;
    edge.opened += d[f.opened]!;
    edge.adopted += d[f.adopted]!;
    edge.closed += d[f.closed]!;
    edge.untracked += d[f.untracked]!;
    for (let r = 0; r < FAIL_REASONS.length; r++) edge.failures[r]! += d[f.failures + r]!;
    edge.sentBytes += d[f.bytes_sent]!;
    edge.receivedBytes += d[f.bytes_received]!;
    edge.retransmits += d[f.retrans]!;
    edge.resetsSent += d[f.resets_sent]!;
    edge.resetsReceived += d[f.resets_received]!;
    if (d[f.connect_sum_ns]! > 0 || this.any(d, f.connect_buckets, CONNECT_BUCKETS.length)) {
      addHistogram((edge.connectDuration ??= new Histogram(CONNECT_BUCKETS)), d, f.connect_buckets, CONNECT_BUCKETS.length, d[f.connect_sum_ns]!, 1e-9);
    }
    if (d[f.rtt_sum_us]! > 0 || this.any(d, f.rtt_buckets, RTT_BUCKETS.length)) {
      addHistogram((edge.rtt ??= new Histogram(RTT_BUCKETS)), d, f.rtt_buckets, RTT_BUCKETS.length, d[f.rtt_sum_us]!, 1e-6);
    }
    if (d[f.duration_sum_ns]! > 0 || this.any(d, f.duration_buckets, DURATION_BUCKETS.length)) {
      addHistogram((edge.duration ??= new Histogram(DURATION_BUCKETS)), d, f.duration_buckets, DURATION_BUCKETS.length, d[f.duration_sum_ns]!, 1e-9);
    }
    edge.touch();
  }

  private any(d: Float64Array, at: number, n: number): boolean {
    for (let i = 0; i <= n; i++) if (d[at + i]! > 0) return true;
    return false;
  }

  /**
   * The entry's edge again (names may have arrived since; an edge forgotten while idle is made
   * anew): its open connections move with it.
   */
  private rehome(e: Entry, t: EdgeTally): void {
    const to = this.edges.get(this.resolve(t));
    if (to === e.edge) return;
    e.edge.active -= e.active;
    to.active += e.active;
    e.edge = to;
    noteLocal(to, t.localAddr);
  }
}
