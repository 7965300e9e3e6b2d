// Who held an address when: every side record claims its local addresses for its interval. A
// server claims (address, listening port); a client claims its address with the destinations it
// reached. The join asks these at the time of each connection, so an address that changes hands
// (a pod replaced by another on the same IP) is never attributed to the wrong holder.

export interface ClaimSpan {
  readonly endpoint: number;
  from: number;
  to: number;
  /** Server spans: client addresses seen; client spans: destinations `addr|port` reached. */
  readonly seen: Set<string>;
  /** Connections opened during the span (the weight when several endpoints share an address). */
  connections: number;
}

/** A span joins the previous one of the same endpoint when the gap is below this (intervals are not aligned). */
const MERGE_GAP_MS = 5_000;
/** Bounds the addresses one span remembers. */
const MAX_SEEN = 256;

export class ClaimIndex {
  private readonly spans = new Map<string, ClaimSpan[]>();

  get keys(): number {
    return this.spans.size;
  }

  /** `seen`: the addresses (or destinations) seen, or the one seen (no array per record on the join's hot path). */
  claim(key: string, endpoint: number, from: number, to: number, seen: string | Iterable<string>, connections: number): void {
    let list = this.spans.get(key);
    if (!list) this.spans.set(key, (list = []));
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
    if (typeof seen === 'string') {
      if (span.seen.size < MAX_SEEN) span.seen.add(seen);
    } else for (const s of seen) if (span.seen.size < MAX_SEEN) span.seen.add(s);
  }

  entries(): IterableIterator<[string, readonly ClaimSpan[]]> {
    return this.spans.entries();
  }

  get(key: string): readonly ClaimSpan[] | undefined {
    return this.spans.get(key);
  }

  /** Forgets spans that ended before `beforeMs`. */
  prune(beforeMs: number): void {
    for (const [key, list] of this.spans) {
      const kept = list.filter((s) => s.to >= beforeMs);
      if (kept.length === 0) this.spans.delete(key);
      else if (kept.length !== list.length) this.spans.set(key, kept);
    }
  }

  /** Plain data for the store (restored after a restart, so the join keeps its memory). */
  toJSON(): Array<[string, Array<[number, number, number, string[], number]>]> {
    return [...this.spans].map(([k, list]) => [k, list.map((s) => [s.endpoint, s.from, s.to, [...s.seen], s.connections])]);
  }

  static fromJSON(data: unknown): ClaimIndex {
    const index = new ClaimIndex();
    if (!Array.isArray(data)) return index;
    for (const entry of data as Array<[string, Array<[number, number, number, string[], number]>]>) {
      index.spans.set(
        entry[0],
        entry[1].map(([endpoint, from, to, seen, connections]) => ({ endpoint, from, to, seen: new Set(seen), connections })),
      );
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
export function holders(spans: readonly ClaimSpan[] | undefined, from: number, to: number, slackMs: number, recentMs: number, wanted: (seen: Set<string>) => boolean): { match: Match; candidates: Candidate[] } | undefined {
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
