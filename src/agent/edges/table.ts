// One generic edge table: identity to counters, for TCP, flows, drops and DNS alike. Past the
// series cap new identities roll up (their peer becomes ROLLUP_PEER; past twice the cap the port
// goes too), counted, never dropped; edges idle for long enough are forgotten.

/** What every edge carries besides its own counters. */
export interface EdgeBase<I> {
  readonly identity: I;
  lastActivityMs: number;
}

/** How one kind of edge is keyed, made and rolled up. */
export interface EdgeKind<I, E extends EdgeBase<I>> {
  keyOf(identity: I): string;
  create(identity: I, nowMs: number): E;
  /** The identity an edge counts under past the cap (level 1), and past twice the cap (level 2). */
  rollup(identity: I, level: 1 | 2): I;
  isRollup(identity: I): boolean;
  /** An edge that must not be forgotten however idle (e.g. it has open connections). */
  pinned?(edge: E): boolean;
}

export interface EdgeTableOptions {
  /** Distinct own edges (series per metric) before new ones roll up. */
  maxSeries: number;
}

export class EdgeTable<I, E extends EdgeBase<I>> {
  private readonly edges = new Map<string, E>();
  private ownEdges = 0;
  /** Identities counted in a roll-up edge instead of their own. */
  rolledUp = 0;

  constructor(
    private readonly kind: EdgeKind<I, E>,
    private readonly options: EdgeTableOptions,
  ) {}

  get size(): number {
    return this.edges.size;
  }

  get maxSeries(): number {
    return this.options.maxSeries;
  }

  /** The edge of an identity; past the cap, its roll-up. */
  get(identity: I, nowMs = Date.now()): E {
    const key = this.kind.keyOf(identity);
    const existing = this.edges.get(key);
    if (existing) return existing;
    const alreadyRollup = this.kind.isRollup(identity);
    if (alreadyRollup || this.ownEdges < this.options.maxSeries) {
      // An identity that is a roll-up already (e.g. drops counted without addresses) is its own edge.
      const edge = this.kind.create(identity, nowMs);
      this.edges.set(key, edge);
      if (!alreadyRollup) this.ownEdges++;
      return edge;
    }
    this.rolledUp++;
    const rollup = this.kind.rollup(identity, this.edges.size < this.options.maxSeries * 2 ? 1 : 2);
    const rkey = this.kind.keyOf(rollup);
    let edge = this.edges.get(rkey);
    if (!edge) {
      edge = this.kind.create(rollup, nowMs);
      this.edges.set(rkey, edge);
    }
    return edge;
  }

  /** Forgets edges without activity for `idleMs` (and not pinned); returns how many. */
  evictIdle(idleMs: number, nowMs = Date.now()): number {
    let n = 0;
    for (const [key, edge] of this.edges) {
      if (nowMs - edge.lastActivityMs > idleMs && !this.kind.pinned?.(edge)) {
        this.edges.delete(key);
        if (!this.kind.isRollup(edge.identity)) this.ownEdges--;
        n++;
      }
    }
    return n;
  }

  values(): IterableIterator<E> {
    return this.edges.values();
  }
}
