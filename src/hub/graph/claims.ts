// Who held an address when: every side record claims its local addresses for its interval. A
// server claims (address, listening port); a client claims its address with the destinations it
// reached. The join asks these at the time of each connection, so an address that changes hands
// (a pod replaced by another on the same IP) is never attributed to the wrong holder.

export interface ClaimSpan {
  readonly endpoint: number;
  from: number;
  to: number;
  /** Server spans: client addresses seen (ClaimKeys' address ids); client spans: destinations reached (server key ids). */
  readonly seen: Set<number>;
  /** Connections opened during the span (the weight when several endpoints share an address). */
  connections: number;
}

/** A span joins the previous one of the same endpoint when the gap is below this (intervals are not aligned). */
const MERGE_GAP_MS = 5_000;
/** Bounds the addresses one span remembers. */
const MAX_SEEN = 256;

/**
 * Addresses and server keys (address, port) as small integers: the claims' keys and what their
 * spans saw. A look-up per record is one hash of an address string (its hash is kept by the string)
 * and a scan of that address's few ports, not a key string made and hashed. Ids are never reused
 * (the claims of a pruned span may still be restored); the dictionary grows with the addresses
 * ever claimed or looked up by a claim.
 */
export class ClaimKeys {
  private readonly addrIds = new Map<string, number>();
  readonly addrs: string[] = [];
  /** Per address id: port, key, port, key... of its server keys. */
  private readonly ports: number[][] = [];
  /** Per server key: its address id and port. */
  readonly keyAddr: number[] = [];
  readonly keyPort: number[] = [];

  /** The id of an address, made when new. */
  addr(a: string): number {
    let id = this.addrIds.get(a);
    if (id === undefined) {
      id = this.addrs.push(a) - 1;
      this.addrIds.set(a, id);
      this.ports.push([]);
    }
    return id;
  }

  /** The id of an address, -1 when it has none. */
  findAddr(a: string): number {
    return this.addrIds.get(a) ?? -1;
  }

  /** The id of a server key (address id, port), made when new. */
  server(addr: number, port: number): number {
    const p = this.ports[addr]!;
    for (let i = 0; i < p.length; i += 2) if (p[i] === port) return p[i + 1]!;
    const key = this.keyAddr.push(addr) - 1;
    this.keyPort.push(port);
    p.push(port, key);
    return key;
  }

  /** The id of a server key, -1 when it has none. */
  findServer(addr: string, port: number): number {
    return this.findServerOf(this.findAddr(addr), port);
  }

  /** The id of a server key by its address id (-1: none), -1 when it has none. */
  findServerOf(addr: number, port: number): number {
    if (addr < 0) return -1;
    const p = this.ports[addr]!;
    for (let i = 0; i < p.length; i += 2) if (p[i] === port) return p[i + 1]!;
    return -1;
  }

  /** A server key as text, `addr|port` (the stored claims' form). */
  serverName(key: number): string {
    return `${this.addrs[this.keyAddr[key]!]}|${this.keyPort[key]}`;
  }

  /** The id of a server key given as `addr|port`. */
  serverOf(name: string): number {
    const bar = name.lastIndexOf('|');
    return this.server(this.addr(name.slice(0, bar)), Number(name.slice(bar + 1)));
  }
}

/** Stored claims: per key, its spans as [endpoint, from, to, seen, connections]. */
type StoredClaims = Array<[string, Array<[number, number, number, string[], number]>]>;

export class ClaimIndex {
  /** By key id (ClaimKeys: an address id for clients, a server key id for servers). */
  private readonly spans: Array<ClaimSpan[] | undefined> = [];
  private count = 0;

  get keys(): number {
    return this.count;
  }

  /** `seen`: the address (or destination) seen, or those seen (no array per record on the join's hot path). */
  claim(key: number, endpoint: number, from: number, to: number, seen: number | readonly number[], connections: number): void {
    let list = this.spans[key];
    if (!list) {
      while (this.spans.length < key) this.spans.push(undefined);
      this.spans[key] = list = [];
      this.count++;
    }
    // Agents' batches arrive in order per agent, but the agents interleave: look back a little.
    let span: ClaimSpan | undefined;
    for (let i = list.length - 1; i >= 0 && i >= list.length - 8; i--) {
      const s = list[i]!;
      if (s.endpoint === endpoint && from <= s.to + MERGE_GAP_MS && to >= s.from - MERGE_GAP_MS) {
        span = s;
        break;
      }
    }
    if (!span) {
      span = { endpoint, from, to, seen: new Set(), connections: 0 };
      list.push(span);
      if (list.length > 1 && list[list.length - 2]!.from > from) list.sort((a, b) => a.from - b.from);
    } else {
      span.from = Math.min(span.from, from);
      span.to = Math.max(span.to, to);
    }
    span.connections += connections;
    if (typeof seen === 'number') {
      if (span.seen.size < MAX_SEEN) span.seen.add(seen);
    } else for (const x of seen) if (span.seen.size < MAX_SEEN) span.seen.add(x);
  }

  *entries(): IterableIterator<[number, readonly ClaimSpan[]]> {
    for (let k = 0; k < this.spans.length; k++) {
      const list = this.spans[k];
      if (list) yield [k, list];
    }
  }

  get(key: number): readonly ClaimSpan[] | undefined {
    return key < 0 ? undefined : this.spans[key];
  }

  /** Forgets spans that ended before `beforeMs`. */
  prune(beforeMs: number): void {
    for (let k = 0; k < this.spans.length; k++) {
      const list = this.spans[k];
      if (!list) continue;
      const kept = list.filter((s) => s.to >= beforeMs);
      if (kept.length === 0) {
        this.spans[k] = undefined;
        this.count--;
      } else if (kept.length !== list.length) this.spans[k] = kept;
    }
  }

  /** Plain data for the store (restored after a restart, so the join keeps its memory), keys and seen as text. */
  toJSON(keyName: (key: number) => string, seenName: (seen: number) => string): StoredClaims {
    return [...this.entries()].map(([k, list]) => [keyName(k), list.map((s) => [s.endpoint, s.from, s.to, [...s.seen].map(seenName), s.connections])]);
  }

  static fromJSON(data: unknown, keyOf: (name: string) => number, seenOf: (name: string) => number): ClaimIndex {
    const index = new ClaimIndex();
    if (!Array.isArray(data)) return index;
    for (const entry of data as StoredClaims) {
      const key = keyOf(entry[0]);
      while (index.spans.length < key) index.spans.push(undefined);
      if (!index.spans[key]) index.count++;
      index.spans[key] = entry[1].map(([endpoint, from, to, seen, connections]) => ({ endpoint, from, to, seen: new Set(seen.map(seenOf)), connections }));
    }
    return index;
  }
}

export interface Candidate {
  endpoint: number;
  /** How long it held the key inside the window (ms). */
  overlap: number;
  /** overlap x its connection rate: its share when several holders share the key at once. */
  traffic: number;
}

export type Match = 'joined' | 'recent';

/**
 * The endpoint of the one span of `spans` when it is the only one and overlaps [from, to] (widened
 * by `slackMs`), else -1: what holders answers then (joined, that endpoint alone), without its
 * objects (the common case, on the join's hot path).
 */
export function soleHolder(spans: readonly ClaimSpan[] | undefined, from: number, to: number, slackMs: number): number {
  if (!spans || spans.length !== 1) return -1;
  const span = spans[0]!;
  const overlap = Math.min(to + slackMs, span.to) - Math.max(from - slackMs, span.from);
  return overlap > 0 || (overlap === 0 && span.from === span.to) ? span.endpoint : -1;
}

/**
 * The holders of `key` during [from, to] (widened by `slackMs`): those that saw `wanted` first;
 * failing any, the last holder within `recentMs` before the window (its agent has not reported
 * the interval yet).
 */
export function holders(spans: readonly ClaimSpan[] | undefined, from: number, to: number, slackMs: number, recentMs: number, wanted: (seen: Set<number>) => boolean): { match: Match; candidates: Candidate[] } | undefined {
  if (!spans || spans.length === 0) return undefined;
  const lo = from - slackMs;
  const hi = to + slackMs;
  if (spans.length === 1) {
    // The common case (one holder): no lists or maps per record.
    const span = spans[0]!;
    const overlap = Math.min(hi, span.to) - Math.max(lo, span.from);
    if (overlap > 0 || (overlap === 0 && span.from === span.to)) {
      const o = Math.max(overlap, 1);
      return { match: 'joined', candidates: [{ endpoint: span.endpoint, overlap: o, traffic: o * ((span.connections + 0.001) / (span.to - span.from + 1000)) }] };
    }
  }
  const overlapping: Array<{ span: ClaimSpan; overlap: number; wanted: boolean }> = [];
  for (const span of spans) {
    const overlap = Math.min(hi, span.to) - Math.max(lo, span.from);
    if (overlap > 0 || (overlap === 0 && span.from === span.to)) overlapping.push({ span, overlap: Math.max(overlap, 1), wanted: wanted(span.seen) });
  }
  if (overlapping.length) {
    const preferred = overlapping.some((o) => o.wanted) ? overlapping.filter((o) => o.wanted) : overlapping;
    const byEndpoint = new Map<number, Candidate>();
    for (const o of preferred) {
      const rate = (o.span.connections + 0.001) / (o.span.to - o.span.from + 1000);
      const c = byEndpoint.get(o.span.endpoint) ?? { endpoint: o.span.endpoint, overlap: 0, traffic: 0 };
      c.overlap += o.overlap;
      c.traffic += o.overlap * rate;
      byEndpoint.set(o.span.endpoint, c);
    }
    return { match: 'joined', candidates: [...byEndpoint.values()] };
  }
  let last: ClaimSpan | undefined;
  for (const span of spans) if (span.to < lo && span.to >= lo - recentMs && (!last || span.to > last.to)) last = span;
  return last ? { match: 'recent', candidates: [{ endpoint: last.endpoint, overlap: 1, traffic: 1 }] } : undefined;
}
