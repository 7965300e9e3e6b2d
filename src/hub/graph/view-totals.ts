// A window's fine-edge totals added up into a view's edges, in typed arrays: per view edge and
// side, a row of counters. A view edge with one fine edge on a side points at that edge's row
// where the store holds it (no copy); rows are copied and added only where fine edges meet. What
// the graph, neighbourhood and diff answers are written from (before the store's next change).
// A row pointed at may be a live window's narrow row (see fine-totals.ts).
import { NARROW, WIDTH, isNarrow, sideCopy, usedWidth } from './counters.js';
import type { FineTotals } from './fine-totals.js';
import type { Filter } from './filter.js';
import type { ViewIndex } from './view-index.js';

const NONE = new Float64Array(0);
const BLOCK_ROWS = 8192;

/** Rows of WIDTH counters, handed out from blocks (for the view edges several fine edges make). */
class Rows {
  private block = NONE;
  private used = 0;

  take(): [Float64Array, number] {
    if (this.used + WIDTH > this.block.length) {
      this.block = new Float64Array(BLOCK_ROWS * WIDTH);
      this.used = 0;
    }
    const at = this.used;
    this.used += WIDTH;
    return [this.block, at];
  }
}

/** A position's rows, unpacked (filled in place: no object per edge). */
export interface EdgeRows {
  c: Float64Array;
  ca: number;
  s: Float64Array;
  sa: number;
  /** The side the edge's main counts come from: the client's when it reported, else the server's. */
  m: Float64Array;
  ma: number;
}

export function edgeRows(): EdgeRows {
  return { c: NONE, ca: -1, s: NONE, sa: -1, m: NONE, ma: -1 };
}

export class ViewTotals {
  /** View edges with traffic, in the order met. */
  readonly edges: Int32Array;
  /** Per position and side: the array that holds its row, and where (-1: the side did not report). */
  readonly clientArray: Float64Array[];
  readonly clientAt: Int32Array;
  readonly serverArray: Float64Array[];
  readonly serverAt: Int32Array;
  /** Per endpoint number of the index: 1 when one of its fine edges had traffic. */
  readonly present: Uint8Array;
  /** Per position and side: 1 when the row is this object's own (several fine edges added up). */
  private readonly owned: Uint8Array;
  private readonly rows = new Rows();

  constructor(
    readonly index: ViewIndex,
    readonly size: number,
    /** View edge number to position (-1: no traffic). */
    readonly position: Int32Array,
  ) {
    this.edges = new Int32Array(size);
    this.clientArray = new Array<Float64Array>(size).fill(NONE);
    this.serverArray = new Array<Float64Array>(size).fill(NONE);
    this.clientAt = new Int32Array(size).fill(-1);
    this.serverAt = new Int32Array(size).fill(-1);
    this.present = new Uint8Array(index.endpointNode.length);
    this.owned = new Uint8Array(size * 2);
  }

  /** Adds a fine edge's side row into a position's side (0 client, 1 server). */
  add(pos: number, side: 0 | 1, src: Float64Array, at: number): void {
    const arrays = side === 0 ? this.clientArray : this.serverArray;
    const offsets = side === 0 ? this.clientAt : this.serverAt;
    const cur = offsets[pos]!;
    if (cur < 0) {
      arrays[pos] = src;
      offsets[pos] = at;
      return;
    }
    let dst = arrays[pos]!;
    let d = cur;
    if (!this.owned[pos * 2 + side]) {
      const [block, o] = this.rows.take();
      block.set(dst.subarray(cur, cur + (isNarrow(dst) ? NARROW : WIDTH)), o);
      arrays[pos] = dst = block;
      offsets[pos] = d = o;
      this.owned[pos * 2 + side] = 1;
    }
    for (let i = 0, n = usedWidth(src, at); i < n; i++) dst[d + i]! += src[at + i]!;
  }

  /** Fills `r` with a position's rows. */
  rowsAt(pos: number, r: EdgeRows): EdgeRows {
    r.c = this.clientArray[pos]!;
    r.ca = this.clientAt[pos]!;
    r.s = this.serverArray[pos]!;
    r.sa = this.serverAt[pos]!;
    r.m = r.ca >= 0 ? r.c : r.s;
    r.ma = r.ca >= 0 ? r.ca : r.sa;
    return r;
  }

  /** A position's side as a Side view (a subarray: no copy), or undefined. */
  side(pos: number, side: 0 | 1): Float64Array | undefined {
    const at = side === 0 ? this.clientAt[pos]! : this.serverAt[pos]!;
    if (at < 0) return undefined;
    const array = side === 0 ? this.clientArray[pos]! : this.serverArray[pos]!;
    // A narrow row (see counters.ts) is copied: its request columns are not there.
    return isNarrow(array) ? sideCopy(array, at) : array.subarray(at, at + WIDTH);
  }

  /** View nodes with traffic (ends of the edges kept), in first-met order. */
  nodes(keep: (pos: number) => boolean = () => true): number[] {
    const seen = new Uint8Array(this.index.nodeCount);
    const out: number[] = [];
    for (let p = 0; p < this.size; p++) {
      if (!keep(p)) continue;
      const ve = this.edges[p]!;
      const a = this.index.source[ve]!;
      const b = this.index.target[ve]!;
      if (!seen[a]) {
        seen[a] = 1;
        out.push(a);
      }
      if (!seen[b]) {
        seen[b] = 1;
        out.push(b);
      }
    }
    return out;
  }

  /** How many of a view node's endpoints had traffic, and one of them (the first member when none did). */
  presentMember(node: number): { count: number; only: number } {
    const members = this.index.nodeMembers[node]!;
    let only = members[0]!;
    let count = 0;
    let first = true;
    for (const m of members) {
      if (this.present[m]) {
        if (first) only = m;
        first = false;
        count++;
      }
    }
    return { count, only };
  }

  /**
   * A view node's labels over its endpoints that had traffic: one value where they agree, the
   * sorted values joined by ',' where they differ (at most 16 values a key).
   */
  nodeLabels(node: number): Record<string, string> {
    const { count, only } = this.presentMember(node);
    if (count <= 1) return { ...this.index.endpointLabels[only]! };
    const members = this.index.nodeMembers[node]!;
    const values = new Map<string, Set<string>>();
    for (const m of members) {
      if (!this.present[m]) continue;
      for (const [k, v] of Object.entries(this.index.endpointLabels[m]!)) {
        let s = values.get(k);
        if (!s) values.set(k, (s = new Set()));
        if (s.size < 16) s.add(v);
      }
    }
    const out: Record<string, string> = {};
    for (const [k, s] of values) out[k] = s.size === 1 ? s.values().next().value! : [...s].sort().join(',');
    return out;
  }
}

/**
 * Adds a window's fine totals into the view's edges (the index learns fine edges it has not
 * seen). With a filter, only fine edges with an end that matches; with `onlyEdge`, only those
 * view edges.
 */
export function groupTotals(index: ViewIndex, fine: FineTotals, filter?: Filter, onlyEdge?: (ve: number) => boolean): ViewTotals {
  // Index first, and count the view edges: the arrays are sized once.
  const numbers = new Int32Array(fine.size);
  let k = 0;
  // By id where the store gives ids and the index has them all (no edge object to fetch).
  let unknown = !fine.forEachId;
  fine.forEachId?.((id) => {
    const no = index.fineNumberOfId(id);
    if (no < 0) unknown = true;
    numbers[k++] = no;
  });
  if (unknown) {
    k = 0;
    fine.forEach((e) => void (numbers[k++] = index.fineNumber(e)));
  }
  const endMatch = filter?.hasEndTerms ? new Int8Array(index.endpointNode.length).fill(-1) : undefined;
  const keeps = (no: number): boolean => {
    if (!filter) return true;
    const e = index.fine[no]!;
    if (!filter.matchesEdgeTerms(e)) return false;
    if (!endMatch) return true;
    const c = index.fineClient[no]!;
    const s = index.fineServer[no]!;
    if (endMatch[c] === -1) endMatch[c] = filter.matchesEnd(e.client) ? 1 : 0;
    if (endMatch[c] === 1) return true;
    if (endMatch[s] === -1) endMatch[s] = filter.matchesEnd(e.server) ? 1 : 0;
    return endMatch[s] === 1;
  };
  const position = new Int32Array(index.edgeCount).fill(-1);
  let n = 0;
  for (let i = 0; i < k; i++) {
    const no = numbers[i]!;
    const ve = index.fineView[no]!;
    if ((onlyEdge && !onlyEdge(ve)) || !keeps(no)) {
      numbers[i] = -1;
      continue;
    }
    if (position[ve] === -1) position[ve] = n++;
  }
  const out = new ViewTotals(index, n, position);
  const { present, edges } = out;
  let i = 0;
  const visit = (_e: unknown, c: Float64Array, ca: number, s: Float64Array, sa: number): void => {
    const no = numbers[i++]!;
    if (no < 0) return;
    const pos = position[index.fineView[no]!]!;
    edges[pos] = index.fineView[no]!;
    if (ca >= 0) out.add(pos, 0, c, ca);
    if (sa >= 0) out.add(pos, 1, s, sa);
    present[index.fineClient[no]!] = 1;
    present[index.fineServer[no]!] = 1;
  };
  if (fine.forEachId) fine.forEachId(visit);
  else fine.forEach(visit);
  return out;
}
