// What the screen shows, from the hub: the graph (or a neighbourhood) for the window, the earlier
// latency of each edge, the diff in compare mode, and, when live, the stream's intervals merged in
// between full refreshes. The stream carries no alert marks, so the graph is read again whenever
// the firing alerts change (`alertsKey`).
import { useEffect, useRef, useState } from 'react';
import type { DiffAnswer, Graph, StatusAnswer } from '../logic/api-types.js';
import { mergeInterval } from '../logic/model.js';
import { baselineOf, windowOf, type UiState } from '../logic/url-state.js';
import { api, HubError, type Params } from './api.js';
import { requireToken } from './token.js';
import { openStream } from './stream.js';

export interface HubData {
  graph: Graph | null;
  /** What `graph` answers: the view, filter, and neighbourhood asked for. */
  request: string;
  /** The hour before the window: what each edge's latency is measured against. */
  earlier: Graph | null;
  diff: DiffAnswer | null;
  status: StatusAnswer | null;
  error: HubError | Error | null;
  loading: boolean;
  stream: 'off' | 'connecting' | 'open' | 'closed';
  updatedAt: number;
  /** Intervals merged since the last full refresh. */
  intervals: number;
}

const LIVE_REFRESH_MS = 15_000;
const STATUS_MS = 10_000;
/** Stream intervals are merged at most this often (the map redraws once per batch). */
const MERGE_MS = 1000;

const iso = (ms: number): string => new Date(ms).toISOString();

export function useHubData(s: UiState, tokenVersion: number, alertsKey = ''): HubData {
  const [data, setData] = useState<HubData>({ graph: null, request: '', earlier: null, diff: null, status: null, error: null, loading: true, stream: 'off', updatedAt: 0, intervals: 0 });
  const [tick, setTick] = useState(0);
  const generation = useRef(0);
  const key = JSON.stringify([s.view, s.range, s.from, s.to, s.filter, s.neighbourhood, s.neighbourhood ? s.hops : 0, s.compare, s.baselineFrom, s.baselineTo, tokenVersion, alertsKey]);

  useEffect(() => {
    const gen = ++generation.current;
    const abort = new AbortController();
    const w = windowOf(s, Date.now());
    const base: Params = { view: s.view, filter: s.filter, from: iso(w.from), to: iso(w.to) };
    const request = `${s.neighbourhood ? `neighbourhood of ${s.neighbourhood} within ${s.hops}` : 'graph'} view=${s.view} filter=${s.filter}`;
    const main = s.neighbourhood ? api.neighbourhood({ ...base, node: s.neighbourhood, hops: s.hops }, abort.signal) : api.graph(base, abort.signal);
    const earlierFrom = w.from - Math.max(3_600_000, w.to - w.from);
    const earlier = api.graph({ view: s.view, filter: s.filter, from: iso(earlierFrom), to: iso(w.from) }, abort.signal).catch(() => null);
    const b = baselineOf(s, w);
    const diff = b ? api.diff({ view: s.view, filter: s.filter, from: iso(w.from), to: iso(w.to), baseline_from: iso(b.from), baseline_to: iso(b.to), limit: 10_000 }, abort.signal) : Promise.resolve(null);
    setData((d) => ({ ...d, loading: true }));
    Promise.all([main, earlier, diff]).then(
      ([graph, earlierGraph, diffAnswer]) => {
        if (gen !== generation.current) return;
        setData((d) => ({ ...d, graph, request, earlier: earlierGraph, diff: diffAnswer, error: null, loading: false, updatedAt: Date.now(), intervals: 0 }));
      },
      (err: unknown) => {
        if (gen !== generation.current || abort.signal.aborted) return;
        if (err instanceof HubError && err.status === 401) requireToken();
        setData((d) => ({ ...d, error: err as Error, loading: false }));
      },
    );
    return () => abort.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key, tick]);

  // Live: the stream between refreshes, and a full refresh now and then (windows move, percentiles do not add).
  useEffect(() => {
    if (s.range !== 'live') {
      setData((d) => ({ ...d, stream: 'off' }));
      return;
    }
    let pending: Parameters<typeof mergeInterval>[1][] = [];
    const flush = setInterval(() => {
      if (!pending.length) return;
      const batch = pending;
      pending = [];
      setData((d) => {
        if (!d.graph) return d;
        let g = d.graph;
        const known = s.neighbourhood ? new Set(g.nodes.map((n) => n.id)) : null;
        for (const ev of batch) g = mergeInterval(g, known ? { ...ev, edges: ev.edges.filter((e) => known.has(e.source) && known.has(e.target)) } : ev);
        return { ...d, graph: g, updatedAt: Date.now(), intervals: d.intervals + batch.length };
      });
    }, MERGE_MS);
    const close = openStream(
      { view: s.view, filter: s.filter },
      {
        onInterval: (ev) => pending.push(ev),
        onState: (state, err) => {
          if (err instanceof HubError && err.status === 401) requireToken();
          setData((d) => ({ ...d, stream: state }));
        },
      },
    );
    const refresh = setInterval(() => setTick((t) => t + 1), LIVE_REFRESH_MS);
    return () => {
      close();
      clearInterval(flush);
      clearInterval(refresh);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [s.range, s.view, s.filter, s.neighbourhood, tokenVersion]);

  useEffect(() => {
    const abort = new AbortController();
    const load = (): void => {
      api.status(abort.signal).then(
        (status) => setData((d) => ({ ...d, status })),
        () => undefined,
      );
    };
    load();
    const t = setInterval(load, STATUS_MS);
    return () => {
      abort.abort();
      clearInterval(t);
    };
  }, [tokenVersion]);

  return data;
}
