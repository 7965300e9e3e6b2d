// The query API's answers, from a GraphStore (embedded or Prometheus): graph, neighbourhood,
// search, breakdown, diff and history. Each takes the request's parameters and returns JSON.
import { breakdown, DOMAINS, type Breakdown } from '../graph/breakdown.js';
import { diff, type Diff } from '../graph/diff.js';
import { Filter, FilterError } from '../graph/filter.js';
import { buildViewGraph, edgeCounters, graphEdge, parseEdgeId, toGraph, type Graph, type GraphEdge, type GraphNode, type ViewEdge, type ViewGraph } from '../graph/graph.js';
import { neighbourhood } from '../graph/neighbourhood.js';
import { search, type SearchHit } from '../graph/search.js';
import { nodeOf, parseView, ViewError, VIEW_KINDS, type View } from '../graph/views.js';
import type { GraphStore, ResolvedEdge, Window } from '../store/store.js';
import { badRequest, formatDuration, parseChoice, parseDurationMs, parseInteger, parseWindow, requireParam } from './params.js';

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
] as const;
export type HistoryMetric = (typeof HISTORY_METRICS)[number];

const MAX_POINTS = 11_000;

export interface NeighbourhoodResult extends Graph {
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

export class Queries {
  constructor(
    readonly store: GraphStore,
    private readonly now: () => number = Date.now,
    private readonly marks?: EdgeMarks,
  ) {}

  private window(q: URLSearchParams, names?: { from: string; to: string }): Window {
    return parseWindow(q, this.now(), this.store.retentionMs, names);
  }

  private async viewGraph(w: Window, v: View, f?: Filter, select?: (e: ResolvedEdge) => boolean): Promise<ViewGraph> {
    return buildViewGraph(await this.store.edges(w, select), v, f);
  }

  async graph(q: URLSearchParams): Promise<Graph> {
    const v = view(q);
    const f = filter(q);
    const w = this.window(q);
    const g = await this.viewGraph(w, v, f);
    const out = toGraph(g, w.from, w.to);
    if (this.marks) for (const e of out.edges) Object.assign(e, this.marks(g.edges.get(e.id)!, w));
    return out;
  }

  async neighbourhood(q: URLSearchParams): Promise<NeighbourhoodResult> {
    const node = requireParam(q, 'node', 'the id of a node (from graph or search)');
    const v = view(q, viewOfNode(node));
    const hops = parseInteger(q, 'hops', 1, 0, 10);
    const w = this.window(q);
    const g = await this.viewGraph(w, v, filter(q), this.around(v, node, hops));
    if (!g.nodes.has(node)) throw badRequest('node', `'${node}' has no edges in the ${q.get('view') || viewOfNode(node)} view between ${new Date(w.from).toISOString()} and ${new Date(w.to).toISOString()} (find ids with /api/v1/search or /api/v1/graph)`);
    const n = neighbourhood(g, node, hops);
    const keep = new Set(n.edges.map((e) => e.id));
    return { ...toGraph(g, w.from, w.to, (id) => n.distance.has(id), (e) => keep.has(e.id)), node, hops, distance: Object.fromEntries(n.distance) };
  }

  /**
   * The fine edges that can lie within `hops` of a node, from every edge the store knows (any
   * window): a superset of the window's neighbourhood, so that only those are read.
   */
  private around(v: View, node: string, hops: number): ((e: ResolvedEdge) => boolean) | undefined {
    const known = this.store.known();
    if (!known) return undefined;
    const all = [...known];
    const ends = new Map<ResolvedEdge, [string, string]>(all.map((e) => [e, [nodeOf(e.client, v).id, nodeOf(e.server, v).id]]));
    const reached = new Set([node]);
    for (let d = 0; d < hops; d++) {
      const next: string[] = [];
      for (const [a, b] of ends.values()) {
        if (reached.has(a) && !reached.has(b)) next.push(b);
        else if (reached.has(b) && !reached.has(a)) next.push(a);
      }
      if (next.length === 0) break;
      for (const n of next) reached.add(n);
    }
    return (e) => {
      const pair = ends.get(e);
      // The node's own edges too: they show it has traffic in the window (with 0 hops as well).
      return pair ? (reached.has(pair[0]) && reached.has(pair[1])) || pair[0] === node || pair[1] === node : true;
    };
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
    const g = await this.viewGraph(w, v, undefined, (e) => e.port === parsed.port && nodeOf(e.client, v).id === parsed.source && nodeOf(e.server, v).id === parsed.target);
    const edge = g.edges.get(id);
    if (!edge) throw badRequest('edge', `'${id}' has no traffic between ${new Date(w.from).toISOString()} and ${new Date(w.to).toISOString()}`);
    return { view: v, edge };
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
    const [cur, base] = await Promise.all([this.viewGraph(w, v, f), this.viewGraph(baseline, v, f)]);
    return {
      view: q.get('view') || 'workload',
      from: new Date(w.from).toISOString(),
      to: new Date(w.to).toISOString(),
      baseline_from: new Date(baseline.from).toISOString(),
      baseline_to: new Date(baseline.to).toISOString(),
      ...diff(cur, base, length / 1000, (baseline.to - baseline.from) / 1000, limit),
    };
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
      const touches = (e: ResolvedEdge): boolean => nodeOf(e.client, v).id === nodeParam || nodeOf(e.server, v).id === nodeParam;
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
  if (!c) return m.endsWith('_seconds') || m === 'failure_ratio' ? null : 0;
  const failures = Object.values(c.failures).reduce((s, n) => s + n, 0);
  switch (m) {
    case 'failures':
      return failures;
    case 'failure_ratio':
      return c.connections + failures > 0 ? failures / (c.connections + failures) : null;
    default:
      return c[m];
  }
}
