// A window's totals per fine edge, as the stores hand them to the graph without an object per edge:
// each fine edge with traffic, and its sides' counters as (array, offset) pairs into the store's
// own arrays (the live window's sums, or the rows DuckDB returned). Readers must not keep them.
// A live window's row of a side without requests is narrow (counters.ts, narrowRows): read request
// columns only through usedWidth, requestsAt, requestSide, quantileOfRows and sideCopy.
import { sideCopy, type Side } from './counters.js';
import type { EdgeTotals, FineTotals, ResolvedEdge } from '../store/store.js';

// The shapes are the store interface's (store.ts): named here too for the graph's code.
export type { FineTotals, FineVisitor } from '../store/store.js';

const NONE = new Float64Array(0);

/** Fine totals over EdgeTotals objects (the Prometheus store, tests, selected edges). */
export function fineTotalsOf(totals: readonly EdgeTotals[]): FineTotals {
  return {
    size: totals.length,
    forEach(visit) {
      for (const t of totals) {
        const [c, s] = t.sides;
        visit(t.edge, c ?? NONE, c ? 0 : -1, s ?? NONE, s ? 0 : -1);
      }
    },
  };
}

/** The same totals as objects (what breakdown, history and alerting take): copies of the sides. */
export function edgeTotalsOf(fine: FineTotals, select?: (e: ResolvedEdge) => boolean): EdgeTotals[] {
  const out: EdgeTotals[] = [];
  const copy = (a: Float64Array, at: number): Side | undefined => (at < 0 ? undefined : sideCopy(a, at));
  fine.forEach((edge, c, ca, s, sa) => {
    if (!select || select(edge)) out.push({ edge, sides: [copy(c, ca), copy(s, sa)] });
  });
  return out;
}

/** Fine totals over a store's map of edge id to sides. */
export function fineTotalsOfMap(map: ReadonlyMap<number, readonly [Side | undefined, Side | undefined]>, resolve: (id: number) => ResolvedEdge): FineTotals {
  return {
    size: map.size,
    forEach(visit) {
      for (const [id, [c, s]] of map) visit(resolve(id), c ?? NONE, c ? 0 : -1, s ?? NONE, s ? 0 : -1);
    },
  };
}

/** Only the fine edges `select` keeps. */
export function selectFine(fine: FineTotals, select: (e: ResolvedEdge) => boolean): FineTotals {
  let size: number | undefined;
  return {
    get size() {
      if (size === undefined) {
        let n = 0;
        fine.forEach((e) => void (select(e) && n++));
        size = n;
      }
      return size;
    },
    forEach(visit) {
      fine.forEach((e, c, ca, s, sa) => {
        if (select(e)) visit(e, c, ca, s, sa);
      });
    },
  };
}
