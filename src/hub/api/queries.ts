// The query API's answers, from a GraphStore (embedded or Prometheus): graph, neighbourhood,
// search, breakdown, diff and history. Each takes the request's parameters and returns JSON.
import { breakdown, DOMAINS, type Breakdown } from '../graph/breakdown.js';
import { diffTotals, type Diff } from '../graph/diff.js';
import { Filter, FilterError } from '../graph/filter.js';
import { buildViewGraph, edgeCounters, graphEdge, parseEdgeId, type Graph, type GraphEdge, type GraphNode, type ViewEdge, type ViewGraph } from '../graph/graph.js';
import { encodeHeads, graphJson } from '../graph/graph-json.js';
import { search, type SearchHit } from '../graph/search.js';
import { ViewIndexes, type ViewIndex } from '../graph/view-index.js';
import { groupTotals, type ViewTotals } from '../graph/view-totals.js';
import { nodeOf, parseView, ViewError, VIEW_KINDS, type View } from '../graph/views.js';
import type { FineTotals, GraphStore, ResolvedEdge, Window } from '../store/store.js';
import { badRequest, formatDuration, parseBoolean, parseChoice, parseDurationMs, parseInteger, parseWindow, requireParam } from './params.js';

export const HISTORY_METRICS = [
  'connections',
  'active',
  'failures',
  'failure_ratio',
  'bytes_sent',
  'bytes_received',
  'retransmits',
  'resets',
  'rtt_p50_seconds',
  'rtt_p99_seconds',
  'connect_p50_seconds',
  'connect_p99_seconds',
  'requests',
  'request_errors',
  'request_error_ratio',
  'request_p50_seconds',
  'request_p99_seconds',
] as const;
export type HistoryMetric = (typeof HISTORY_METRICS)[number];

const MAX_POINTS = 11_000;

export interface NeighbourhoodResult extends Graph {
  // Written as JSON text (RawJson) by the API; this is its shape.
  node: string;
  hops: number;
  /** Node id to hops from the start. */
  distance: Record<string, number>;
}

export interface BreakdownResult extends Breakdown {
  from: string;
  to: string;
  edge: GraphEdge;
}

export interface DiffResult extends Diff {
  view: string;
  from: string;
  to: string;
  baseline_from: string;
  baseline_to: string;
}

export interface HistoryResult {
  from: string;
  to: string;
  step_seconds: number;
  /** Each step's end, Unix seconds. */
  times: number[];
  /** Per metric, one value per time (null where nothing was observed). */
  series: Record<string, Array<number | null>>;
}

function view(q: URLSearchParams, fallback = 'workload'): View {
  try {
    return parseView(q.get('view') || fallback);
  } catch (err) {
    if (err instanceof ViewError) throw badRequest('view', err.message);
    throw err;
  }
}

function filter(q: URLSearchParams): Filter | undefined {
  try {
    return Filter.parse(q.get('filter') ?? '');
  } catch (err) {
    if (err instanceof FilterError) throw badRequest('filter', err.message);
    throw err;
  }
}

/** The view a node id belongs to when none is given: its kind's. */
function viewOfNode(id: string): string {
  const kind = id.slice(0, id.indexOf(':'));
  return (VIEW_KINDS as readonly string[]).includes(kind) ? kind : kind === 'label' ? `label:${id.slice(6, id.indexOf('='))}` : 'process';
}

/** Extra fields a graph edge carries (the alerts on it), from its fine edges and the window. */
export type EdgeMarks = (edge: ViewEdge, window: Window) => Record<string, unknown> | undefined;

export interface Marks {
  /** Whether anything could mark an edge in this window (else edges are not asked one by one). */
  any(window: Window): boolean;
  of: EdgeMarks;
}

/** An answer already written as JSON bytes (in buffers): sent as it is. */
export class RawJson {
  constructor(readonly parts: Buffer[]) {}
}

export class Queries {
  private readonly indexes = new ViewIndexes();

  constructor(
    readonly store: GraphStore,
    private readonly now: () => number = Date.now,
    private readonly marks?: Marks,
  ) {}

  private window(q: URLSearchParams, names?: { from: string; to: string }): Window {
    return parseWindow(q, this.now(), this.store.retentionMs, names);
  }

  private async viewGraph(w: Window, v: View, f?: Filter, select?: (e: ResolvedEdge) => boolean): Promise<ViewGraph> {
    return buildViewGraph(await this.store.edges(w, select), v, f);
  }

  /** The view's index, with every fine edge the store knows (when it can tell) indexed. */
  private index(v: View): ViewIndex {
    const index = this.indexes.get(v);
    const known = this.store.known();
    if (known) index.indexAll(known);
    return index;
  }

  /**
   * Builds a view's index and its JSON encodings ahead of its first request, in slices of about
   * `sliceMs` with the event loop free in between (ingest and queries go on meanwhile; a request
   * for the view finishes what is left itself). Returns when all of it is built.
   */
  async warm(v: View, sliceMs = 10, stop: () => boolean = () => false): Promise<void> {
    const known = this.store.known();
    if (!known) return;
    const index = this.indexes.get(v);
    const free = (): Promise<void> => new Promise((r) => setImmediate(r));
    const STEP = 256;
    for (let done = false; !done && !stop(); await free()) {
      const t0 = performance.now();
      while (!done && performance.now() - t0 < sliceMs) done = index.indexAll(known, STEP);
    }
    for (let ve = 0; ve < index.edgeCount && !stop(); await free()) {
      const t0 = performance.now();
      for (; ve < index.edgeCount && performance.now() - t0 < sliceMs; ve += STEP) encodeHeads(index, ve, ve + STEP);
    }
  }

  /** The alerts on each edge, as JSON members to add (only when there are alerts in the window). */
  private edgeMarks(t: ViewTotals, w: Window): ((pos: number) => string) | undefined {
    const marks = this.marks;
    if (!marks || !marks.any(w)) return undefined;
    const { index } = t;
    return (pos) => {
      const ve = t.edges[pos]!;
      const members = index.members[ve]!.map((no) => ({ edge: index.fine[no]!, sides: [undefined, undefined] as const }));
      const extra = marks.of({ id: index.edgeId(ve), members } as unknown as ViewEdge, w);
      if (!extra) return '';
      let out = '';
      for (const [k, val] of Object.entries(extra)) if (val !== undefined) out += `,${JSON.stringify(k)}:${JSON.stringify(val)}`;
      return out;
    };
  }

  async graph(q: URLSearchParams): Promise<RawJson> {
    const v = view(q);
    const f = filter(q);
    const w = this.window(q);
    const sides = parseBoolean(q, 'sides', false);
    const index = this.index(v);
    const fine = await this.store.fine(w);
    try {
      const t = groupTotals(index, fine, f);
      return new RawJson(graphJson(t, { from: w.from, to: w.to, edgeExtra: this.edgeMarks(t, w), sides }));
    } finally {
      // The answer is bytes now: nothing reads the rows any more.
      fine.release?.();
    }
  }

  async neighbourhood(q: URLSearchParams): Promise<RawJson> {
    const node = requireParam(q, 'node', 'the id of a node (from graph or search)');
    const v = view(q, viewOfNode(node));
    const hops = parseInteger(q, 'hops', 1, 0, 10);
    const w = this.window(q);
    const f = filter(q);
    const sides = parseBoolean(q, 'sides', false);
    const index = this.index(v);
    const missing = (): never => {
      throw badRequest('node', `'${node}' has no edges in the ${q.get('view') || viewOfNode(node)} view between ${new Date(w.from).toISOString()} and ${new Date(w.to).toISOString()} (find ids with /api/v1/search or /api/v1/graph)`);
    };
    // Every view edge ever seen (when the store can tell) bounds what the window can reach: only
    // those fine edges are read and added up.
    let candidate: ((ve: number) => boolean) | undefined;
    let select: ((e: ResolvedEdge) => boolean) | undefined;
    const start = index.nodeNumber(node);
    if (this.store.known()) {
      if (start === undefined) missing();
      const reached = index.reach(start!, hops);
      const near = (ve: number): boolean => (reached.has(index.source[ve]!) && reached.has(index.target[ve]!)) || index.source[ve] === start || index.target[ve] === start;
      const fineEdges = new Set<ResolvedEdge>();
      for (const n of reached.keys()) for (const ve of index.adjacent[n]!) if (near(ve)) for (const no of index.members[ve]!) fineEdges.add(index.fine[no]!);
      candidate = near;
      select = (e) => fineEdges.has(e);
    }
    const t = groupTotals(index, await this.store.fine(w, select), f, candidate);
    const from = index.nodeNumber(node);
    if (from === undefined || !t.nodes().includes(from)) missing();
    // Distances over the edges with traffic in the window.
    const distance = index.reach(from!, hops, (ve) => t.position[ve] !== undefined && t.position[ve]! >= 0);
    const keep = (pos: number): boolean => distance.has(index.source[t.edges[pos]!]!) && distance.has(index.target[t.edges[pos]!]!);
    const distances: Record<string, number> = {};
    for (const [n, d] of distance) distances[index.nodeIds[n]!] = d;
    return new RawJson(
      graphJson(t, { from: w.from, to: w.to, keep, edgeExtra: this.edgeMarks(t, w), sides, tail: `,"node":${JSON.stringify(node)},"hops":${hops},"distance":${JSON.stringify(distances)}` }),
    );
  }

  async search(q: URLSearchParams): Promise<{ query: string; results: SearchHit[] }> {
    const text = requireParam(q, 'q', 'a name, label value or address to look for');
    if (text.length > 256) throw badRequest('q', 'is longer than 256 characters');
    const limit = parseInteger(q, 'limit', 50, 1, 1000);
    return { query: text, results: search(await this.store.endpoints(), text, limit) };
  }

  private async findEdge(q: URLSearchParams, w: Window): Promise<{ view: View; edge: ViewEdge }> {
    const id = requireParam(q, 'edge', 'the id of an edge (from graph)');
    const parsed = parseEdgeId(id);
    if (!parsed) throw badRequest('edge', `'${id}' is not an edge id: use an edges[].id from /api/v1/graph`);
    let v: View;
    try {
      v = parseView(parsed.view);
    } catch {
      throw badRequest('edge', `'${id}' names no view: use an edges[].id from /api/v1/graph`);
    }
    const g = await this.viewGraph(w, v, undefined, this.membersOf(v, parsed) ?? ((e) => e.port === parsed.port && nodeOf(e.client, v).id === parsed.source && nodeOf(e.server, v).id === parsed.target));
    const edge = g.edges.get(id);
    if (!edge) throw badRequest('edge', `'${id}' has no traffic between ${new Date(w.from).toISOString()} and ${new Date(w.to).toISOString()}`);
    return { view: v, edge };
  }

  /** The fine edges of a view edge, from the index (when the store knows its edges). */
  private membersOf(v: View, e: { source: string; target: string; port: number }): ((e: ResolvedEdge) => boolean) | undefined {
    if (!this.store.known()) return undefined;
    const index = this.index(v);
    const src = index.nodeNumber(e.source);
    const dst = index.nodeNumber(e.target);
    const ve = src === undefined || dst === undefined ? undefined : index.edgeNumber(src, dst, e.port);
    const members = new Set(ve === undefined ? [] : index.members[ve]!.map((no) => index.fine[no]!));
    return (f) => members.has(f);
  }

  /** The fine edges touching a view node, from the index (when the store knows its edges). */
  private touching(v: View, node: string): ((e: ResolvedEdge) => boolean) | undefined {
    if (!this.store.known()) return undefined;
    const index = this.index(v);
    const n = index.nodeNumber(node);
    const members = new Set<ResolvedEdge>();
    if (n !== undefined) for (const ve of index.adjacent[n]!) for (const no of index.members[ve]!) members.add(index.fine[no]!);
    return (f) => members.has(f);
  }

  async breakdown(q: URLSearchParams): Promise<BreakdownResult> {
    const by = parseChoice(q, 'by', DOMAINS, 'node');
    if (!q.get('by')) throw badRequest('by', `is required: one of ${DOMAINS.join(', ')}`);
    const w = this.window(q);
    const { edge } = await this.findEdge(q, w);
    return { from: new Date(w.from).toISOString(), to: new Date(w.to).toISOString(), edge: graphEdge(edge), ...breakdown(edge, by) };
  }

  async diff(q: URLSearchParams): Promise<DiffResult> {
    const v = view(q);
    const f = filter(q);
    const now = this.now();
    const w = this.window(q);
    if (!q.get('baseline_from')) throw badRequest('baseline_from', 'is required: the start of the window to compare with (RFC 3339 or relative like -2h)');
    const length = w.to - w.from;
    // Without baseline_to, the baseline is as long as the window.
    const b = parseWindow(q, now, this.store.retentionMs, { from: 'baseline_from', to: 'baseline_to' });
    const baseline = q.get('baseline_to') ? b : { from: b.from, to: b.from + length };
    if (baseline.to > now) throw badRequest('baseline_to', 'is in the future');
    const limit = parseInteger(q, 'limit', 50, 1, 10_000);
    const index = this.index(v);
    // The baseline first: the current window may be read from live state (use it before awaiting).
    const baseFine = await this.store.fine(baseline);
    let curFine: FineTotals | undefined;
    try {
      const base = groupTotals(index, baseFine, f);
      const cur = groupTotals(index, (curFine = await this.store.fine(w)), f);
      return {
        view: q.get('view') || 'workload',
        from: new Date(w.from).toISOString(),
        to: new Date(w.to).toISOString(),
        baseline_from: new Date(baseline.from).toISOString(),
        baseline_to: new Date(baseline.to).toISOString(),
        // Made of numbers and strings: no row is referenced by the answer.
        ...diffTotals(cur, base, length / 1000, (baseline.to - baseline.from) / 1000, limit),
      };
    } finally {
      baseFine.release?.();
      curFine?.release?.();
    }
  }

  async history(q: URLSearchParams): Promise<HistoryResult> {
    const edgeParam = q.get('edge');
    const nodeParam = q.get('node');
    if (!edgeParam === !nodeParam) throw badRequest(edgeParam ? 'node' : 'edge', 'give exactly one of edge=ID or node=ID');
    const metrics = (q.get('metric') || 'connections').split(',').map((m) => m.trim());
    for (const m of metrics) if (!(HISTORY_METRICS as readonly string[]).includes(m)) throw badRequest('metric', `'${m}' is not a metric: use one or more (comma-separated) of ${HISTORY_METRICS.join(', ')}`);
    const w = this.window(q);
    const stepText = q.get('step');
    const step = stepText ? parseDurationMs(stepText, 'step') : Math.max(1000, Math.ceil((w.to - w.from) / 120 / 1000) * 1000);
    if (step < 1000) throw badRequest('step', 'must be at least 1s');
    if ((w.to - w.from) / step > MAX_POINTS) throw badRequest('step', `${formatDuration(step)} makes more than ${MAX_POINTS} points over this window: use a longer step`);
    let keys: Set<string>;
    if (edgeParam) {
      const { edge } = await this.findEdge(q, w);
      keys = new Set(edge.members.map((m) => m.edge.key));
    } else {
      const v = view(q, viewOfNode(nodeParam!));
      const touches = this.touching(v, nodeParam!) ?? ((e: ResolvedEdge): boolean => nodeOf(e.client, v).id === nodeParam || nodeOf(e.server, v).id === nodeParam);
      keys = new Set((await this.store.edges(w, touches)).map((t) => t.edge.key));
      if (keys.size === 0) throw badRequest('node', `'${nodeParam}' has no edges in the ${q.get('view') || viewOfNode(nodeParam!)} view in this window (find ids with /api/v1/search or /api/v1/graph)`);
    }
    const points = await this.store.series(w, step, keys);
    const byT = new Map(points.map((p) => [p.t, p]));
    const times: number[] = [];
    const series: Record<string, Array<number | null>> = Object.fromEntries(metrics.map((m) => [m, []]));
    for (let t = w.from + step; t < w.to + step; t += step) {
      times.push(Math.round(t / 1000));
      const p = byT.get(t);
      const counters = p && (p.sides[0] || p.sides[1]) ? edgeCounters(p.sides[0], p.sides[1]) : undefined;
      for (const m of metrics) series[m]!.push(metricValue(counters, m as HistoryMetric));
    }
    return { from: new Date(w.from).toISOString(), to: new Date(w.to).toISOString(), step_seconds: step / 1000, times, series };
  }

  /** The nodes of a view (for the stream's first message). */
  static nodes(g: ViewGraph): GraphNode[] {
    return [...g.nodes.values()];
  }
}

function metricValue(c: ReturnType<typeof edgeCounters> | undefined, m: HistoryMetric): number | null {
  if (!c) return m.endsWith('_seconds') || m.endsWith('_ratio') ? null : 0;
  const failures = Object.values(c.failures).reduce((s, n) => s + n, 0);
  switch (m) {
    case 'requests':
    case 'request_errors':
      return c[m] ?? 0;
    case 'request_error_ratio':
      return c.requests ? (c.request_errors ?? 0) / c.requests : null;
    case 'request_p50_seconds':
    case 'request_p99_seconds':
      return c[m] ?? null;
    case 'failures':
      return failures;
    case 'failure_ratio':
      return c.connections + failures > 0 ? failures / (c.connections + failures) : null;
    default:
      return c[m];
  }
}
