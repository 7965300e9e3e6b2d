// The join: each agent reports its own side of its connections (a client's view, a server's
// view). Both become one fine edge (client endpoint, server endpoint, port) when the peer address
// of one side was held by the other at that time. In order of preference, a side record's peer is:
//   1. the endpoint that claimed that address (and port) during the record's interval, and saw
//      this side's address as its peer;
//   2. the last endpoint that held it shortly before (its agent has not reported this interval);
//   3. the workload the reporting agent itself knew at that address (a pod it had heard of);
//   4. an external endpoint: the address, named by its DNS name when an agent saw one.
// NAT: a client that reached a service address names where its connections landed
// (actual_peers); those backends are joined instead of the service address.
import { wire } from '../../model/index.js';
import { ClaimIndex, ClaimKeys, holders, soleHolder, type Candidate, type Match } from './claims.js';
import { addTcpRecord, type Side } from './counters.js';
import { SampleBlock } from './sample-block.js';
import { CLIENT, SERVER, type EdgeDictionary, type SideIndex } from './edges.js';
import { EndpointDictionary, externalEndpoint, knowsWorkload, peerEndpoint, processEndpoint, type Endpoint } from './endpoint.js';

export interface RunInfo {
  node: string;
  zone: string;
}

export interface BatchWindow {
  /** Interval bounds, ms since the epoch. */
  from: number;
  to: number;
}

/** One side's counters for one fine edge over one interval (a sample row as the store writes it). */
export interface Contribution {
  /** The interval's end and length, ms. */
  t: number;
  durMs: number;
  edge: number;
  side: SideIndex;
  values: Side;
}

export type Resolution = Match | 'agent_view' | 'external';

export interface JoinOptions {
  /** How far apart two agents' intervals of the same traffic may lie (ms). */
  slackMs: number;
  /** How long a holder stays the answer after its last report (ms). */
  recentMs: number;
  /** How long claims are remembered (ms). */
  keepMs: number;
}

export const DEFAULT_JOIN: JoinOptions = { slackMs: 2_000, recentMs: 5 * 60_000, keepMs: 60 * 60_000 };


export class Joiner {
  /** Servers' claims by server key, clients' by address (ids of `keys`). */
  claims: { servers: ClaimIndex; clients: ClaimIndex } = { servers: new ClaimIndex(), clients: new ClaimIndex() };
  keys = new ClaimKeys();
  /** The DNS names agents saw addresses resolved from. */
  readonly dnsNames = new Map<string, string>();
  readonly resolved: Record<Resolution, number> = { joined: 0, recent: 0, agent_view: 0, external: 0 };

  constructor(
    private readonly endpoints: EndpointDictionary,
    private readonly edges: EdgeDictionary,
    private readonly options: JoinOptions = DEFAULT_JOIN,
  ) {}

  /** The claims as plain data (server keys `addr|port`, addresses as text): what the store keeps. */
  claimsJSON(): { servers: unknown; clients: unknown } {
    const k = this.keys;
    const addr = (id: number): string => k.addrs[id]!;
    const server = (key: number): string => k.serverName(key);
    return { servers: this.claims.servers.toJSON(server, addr), clients: this.claims.clients.toJSON(addr, server) };
  }

  /** Numbers anew only the addresses and server keys the claims hold (between batches: ids change). */
  compactKeys(): void {
    const data = this.claimsJSON();
    this.keys = new ClaimKeys();
    this.restoreClaims(data);
  }

  /** Restores claimsJSON's data (after a restart). */
  restoreClaims(data: { servers: unknown; clients: unknown }): void {
    const k = this.keys;
    const addr = (a: string): number => k.addr(a);
    const server = (name: string): number => k.serverOf(name);
    this.claims = { servers: ClaimIndex.fromJSON(data.servers, server, addr), clients: ClaimIndex.fromJSON(data.clients, addr, server) };
  }

  /** Per endpoint, the addresses its claims hold (for search). */
  claimedAddresses(): Map<number, Set<string>> {
    const out = new Map<number, Set<string>>();
    const add = (id: number, addr: string): void => {
      let s = out.get(id);
      if (!s) out.set(id, (s = new Set()));
      s.add(addr);
    };
    const k = this.keys;
    for (const [key, spans] of this.claims.servers.entries()) for (const s of spans) add(s.endpoint, k.addrs[k.keyAddr[key]!]!);
    for (const [addr, spans] of this.claims.clients.entries()) for (const s of spans) add(s.endpoint, k.addrs[addr]!);
    return out;
  }

  /**
   * Endpoint ids of the reporting processes by a short key (process, pod, container); the few
   * endpoints under one key are told apart by comparing their fields (the hot path: no long key
   * string, no JSON of the labels per record).
   */
  private readonly processIds = new Map<string, number[]>();

  private localEndpoint(run: RunInfo, r: wire.TcpEdgeV1): number {
    const w = r.local;
    const key = `${r.process}\u0001${w.pod ?? ''}\u0001${w.container ?? ''}`;
    let ids = this.processIds.get(key);
    if (ids) for (const id of ids) if (sameProcess(this.endpoints.get(id), run, r)) return id;
    const id = this.endpoints.intern(processEndpoint(run.node, run.zone, r.process, r.cgroup ?? '', w));
    if (!ids) {
      if (this.processIds.size > 1_000_000) this.processIds.clear();
      this.processIds.set(key, (ids = []));
    }
    if (!ids.includes(id)) ids.push(id);
    return id;
  }

  private localsOf(run: RunInfo, rows: wire.TcpRows): (r: wire.TcpEdgeV1) => number {
    const find = (r: wire.TcpEdgeV1): number => this.localEndpoint(run, r);
    return rows.sharedEnds ? batchLocals(find) : find;
  }

  /** The reporting processes' endpoint ids of a batch's TCP records, in order (observe's, for resolve). */
  localEndpoints(run: RunInfo, batch: wire.BatchV1, rows = wire.batchTcpRows(batch)): Int32Array {
    const out = new Int32Array(rows.length);
    const local = this.localsOf(run, rows);
    for (let i = 0; i < out.length; i++) out[i] = local(rows.at(i));
    return out;
  }

  /**
   * Registers what a batch says about who held which address (as soon as it arrives), and returns
   * its local endpoints (localEndpoints). `rows`: the batch's TCP records (their record may be
   * reused from row to row: nothing here keeps it).
   */
  observe(run: RunInfo, batch: wire.BatchV1, w: BatchWindow, rows = wire.batchTcpRows(batch)): Int32Array {
    for (const f of batch.flows) if (f.peer_dns) this.dnsNames.set(f.peer, f.peer_dns);
    const locals = new Int32Array(rows.length);
    const local = this.localsOf(run, rows);
    const keys = this.keys;
    // Rows of columns: each string of the batch looked up once (its dictionary index), not once per record.
    const cache = this.batchCache(rows);
    const addr = (s: string, k: number): number => {
      if (!cache) return keys.addr(s);
      let id = cache[k]!;
      if (id < 0) cache[k] = id = keys.addr(s);
      return id;
    };
    const peerIndex = (i: number): number => (cache ? rows.peerIndex!(i) : -1);
    const localIndex = (i: number, j: number): number => (cache ? rows.localAddrIndex!(i, j) : -1);
    for (let i = 0; i < rows.length; i++) {
      const r = rows.at(i);
      const endpoint = (locals[i] = local(r));
      const addrs = r.local_addrs;
      if (!addrs?.length) continue;
      if (r.role === 'server') {
        const peer = addr(r.peer, peerIndex(i));
        for (let j = 0; j < addrs.length; j++) this.claims.servers.claim(keys.server(addr(addrs[j]!, localIndex(i, j)), r.port), endpoint, w.from, w.to, peer, r.opened + r.active);
      } else {
        const peers = r.actual_peers;
        const reached = peers?.length ? peers.map((p) => keys.server(keys.addr(p.addr), p.port)) : keys.server(addr(r.peer, peerIndex(i)), r.port);
        for (let j = 0; j < addrs.length; j++) this.claims.clients.claim(addr(addrs[j]!, localIndex(i, j)), endpoint, w.from, w.to, reached, r.opened + r.active);
      }
    }
    return locals;
  }

  /**
   * The batch's TCP records as contributions to fine edges (call after observe, once the other
   * agents had time to report; `locals` is what observe returned), as objects (see resolveInto).
   */
  resolve(run: RunInfo, batch: wire.BatchV1, w: BatchWindow, locals?: Int32Array, rows = wire.batchTcpRows(batch)): Contribution[] {
    const block = new SampleBlock(rows.length);
    this.resolveInto(block, run, batch, w, locals, rows);
    return block.rows() as Contribution[];
  }

  /** Per string of the batch being read (rows of columns): its address id, -1 none, -2 not looked up yet. */
  private stringAddrs = new Int32Array(0);

  private batchCache(rows: wire.TcpRows): Int32Array | undefined {
    const n = rows.strings;
    if (n === undefined || !rows.peerIndex || !rows.localAddrIndex) return undefined;
    if (this.stringAddrs.length < n) this.stringAddrs = new Int32Array(Math.max(n, this.stringAddrs.length * 2));
    this.stringAddrs.fill(-2, 0, n);
    return this.stringAddrs;
  }

  /** Per row (edge * 2 + side): 1 + its row in the block of the batch being resolved, when its stamp is that batch's. */
  private rowOf = new Int32Array(0);
  private rowStamp = new Int32Array(0);
  private stamp = 0;

  /**
   * Adds the batch's TCP records to `block`: one row per fine edge side the batch feeds, in the
   * order first fed (the same rows, in the same order, as resolve's contributions).
   */
  resolveInto(block: SampleBlock, run: RunInfo, batch: wire.BatchV1, w: BatchWindow, locals?: Int32Array, rows = wire.batchTcpRows(batch)): void {
    locals ??= this.localEndpoints(run, batch, rows);
    if (this.stamp === 0x7fffffff) (this.rowStamp.fill(0), (this.stamp = 0));
    const stamp = ++this.stamp;
    const durMs = w.to - w.from;
    // Nothing claims an address while a batch is resolved: a look-up per string of the batch holds for all its rows.
    const cache = this.batchCache(rows);
    const peerAddr = (r: wire.TcpEdgeV1, i: number): number => {
      if (!cache) return this.keys.findAddr(r.peer);
      const k = rows.peerIndex!(i);
      let id = cache[k]!;
      if (id === -2) cache[k] = id = this.keys.findAddr(r.peer);
      return id;
    };
    const add = (client: number, server: number, port: number, side: SideIndex, r: wire.TcpEdgeV1, weight: number): void => {
      const key = this.edges.idOf(client, server, port) * 2 + side;
      if (key >= this.rowOf.length) this.growRows(key);
      let i: number;
      if (this.rowStamp[key] === stamp) i = this.rowOf[key]! - 1;
      else {
        i = block.push(w.to, durMs, key >> 1, side);
        this.rowOf[key] = i + 1;
        this.rowStamp[key] = stamp;
      }
      addTcpRecord(block.valuesOf(i), r, weight, block.offsetOf(i));
    };
    for (let i = 0; i < rows.length; i++) {
      const r = rows.at(i);
      const local = locals[i]!;
      if (r.role === 'client') {
        if (!r.actual_peers?.length) {
          add(local, this.resolveServer(r, r.peer, peerAddr(r, i), r.port, w, r.remote), r.port, CLIENT, r, 1);
          continue;
        }
        const targets = r.actual_peers;
        const total = targets.reduce((s, t) => s + t.connections, 0);
        for (const t of targets) {
          const share = total > 0 ? t.connections / total : 1 / targets.length;
          // A service address's own workload (the client's view) names a backend only when there is one.
          const server = this.resolveServer(r, t.addr, this.keys.findAddr(t.addr), t.port, w, t.addr === r.peer ? r.remote : {});
          add(local, server, t.port, CLIENT, r, share);
        }
      } else {
        for (const { endpoint, weight } of this.resolveClients(r, peerAddr(r, i), w)) add(endpoint, local, r.port, SERVER, r, weight);
      }
    }
  }

  private growRows(key: number): void {
    const n = Math.max(key + 1, this.rowOf.length * 2, 4096);
    const rowOf = new Int32Array(n);
    rowOf.set(this.rowOf);
    const rowStamp = new Int32Array(n);
    rowStamp.set(this.rowStamp);
    this.rowOf = rowOf;
    this.rowStamp = rowStamp;
  }

  private fallback(addr: string, view: wire.WorkloadV1): number {
    if (knowsWorkload(view)) {
      this.resolved.agent_view++;
      return this.endpoints.intern(peerEndpoint(addr, view));
    }
    this.resolved.external++;
    return this.endpoints.intern(externalEndpoint(addr, this.dnsNames.get(addr) ?? ''));
  }

  /** `addrId`: addr's id in keys (-1: none). */
  private resolveServer(r: wire.TcpEdgeV1, addr: string, addrId: number, port: number, w: BatchWindow, view: wire.WorkloadV1): number {
    const spans = this.claims.servers.get(this.keys.findServerOf(addrId, port));
    const sole = soleHolder(spans, w.from, w.to, this.options.slackMs);
    if (sole >= 0) {
      this.resolved.joined++;
      return sole;
    }
    const mine = r.local_addrs ?? [];
    const found = holders(spans, w.from, w.to, this.options.slackMs, this.options.recentMs, (seen) => mine.some((a) => seen.has(this.keys.findAddr(a))));
    if (!found) return this.fallback(addr, view);
    this.resolved[found.match]++;
    // One listener holds an address and port at a time: the one that held it longest in the window.
    return found.candidates.reduce((best, c) => (c.overlap > best.overlap ? c : best)).endpoint;
  }

  /** `peer`: r.peer's id in keys (-1: none). */
  private resolveClients(r: wire.TcpEdgeV1, peer: number, w: BatchWindow): readonly { endpoint: number; weight: number }[] {
    const spans = this.claims.clients.get(peer);
    const sole = soleHolder(spans, w.from, w.to, this.options.slackMs);
    if (sole >= 0) {
      this.resolved.joined++;
      this.sole.endpoint = sole;
      return this.soleList;
    }
    const mine = (r.local_addrs ?? []).map((a) => this.keys.findServer(a, r.port));
    const found = holders(spans, w.from, w.to, this.options.slackMs, this.options.recentMs, (seen) => mine.length === 0 || mine.some((k) => seen.has(k)));
    if (!found) return [{ endpoint: this.fallback(r.peer, r.remote), weight: 1 }];
    this.resolved[found.match]++;
    // Several processes on one address may all have called this server: share by their traffic.
    return shares(found.candidates);
  }

  /** resolveClients' answer when one client held the address (reused: read before the next call). */
  private readonly sole = { endpoint: -1, weight: 1 };
  private readonly soleList = [this.sole];

  prune(nowMs: number): void {
    this.claims.servers.prune(nowMs - this.options.keepMs);
    this.claims.clients.prune(nowMs - this.options.keepMs);
    // Addresses no claim holds any more (pods gone) leave the dictionary once they outnumber the rest.
    if (this.keys.addrs.length > 2 * (this.claims.servers.keys + this.claims.clients.keys) + 100_000) this.compactKeys();
    if (this.dnsNames.size > 1_000_000) this.dnsNames.clear();
  }
}

/**
 * The endpoint of a record's process within one batch, by its end object (records read from
 * columns share their batch's ends): a look-up by identity, then process and cgroup compared,
 * before the join's own look-up (`find`).
 */
function batchLocals(find: (r: wire.TcpEdgeV1) => number): (r: wire.TcpEdgeV1) => number {
  const byEnd = new Map<wire.WorkloadV1, Array<{ process: string; cgroup: string | undefined; id: number }>>();
  return (r) => {
    let known = byEnd.get(r.local);
    if (known) {
      for (const k of known) if (k.process === r.process && k.cgroup === r.cgroup) return k.id;
    } else byEnd.set(r.local, (known = []));
    const id = find(r);
    known.push({ process: r.process, cgroup: r.cgroup, id });
    return id;
  };
}

function shares(candidates: Candidate[]): Array<{ endpoint: number; weight: number }> {
  if (candidates.length === 1) return [{ endpoint: candidates[0]!.endpoint, weight: 1 }];
  const total = candidates.reduce((s, c) => s + c.traffic, 0);
  return candidates.map((c) => ({ endpoint: c.endpoint, weight: total > 0 ? c.traffic / total : 1 / candidates.length }));
}

/** Whether `e` is the endpoint processEndpoint would make of this record (see localEndpoint). */
function sameProcess(e: Endpoint, run: RunInfo, r: wire.TcpEdgeV1): boolean {
  const w = r.local;
  return (
    e.kind === 'process' &&
    e.process === r.process &&
    e.cgroup === (r.cgroup ?? '') &&
    e.node === (w.node || run.node) &&
    e.zone === (w.zone || run.zone) &&
    e.pod === (w.pod ?? '') &&
    e.container === (w.container ?? '') &&
    e.namespace === (w.namespace ?? '') &&
    e.workload === (w.workload ?? '') &&
    e.workloadKind === (w.workload_kind ?? '') &&
    e.service === (w.service ?? '') &&
    e.image === (w.image ?? '') &&
    e.version === (w.version ?? '') &&
    wire.sameLabels(e.labels, w.labels ?? {})
  );
}

