// The page: controls, the map or the table, the details of the selection, and a status line that
// says what the map is showing (and what it collapsed or left out to stay usable).
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { buildHierarchy, groupsToReveal, visibleGraph, type VisibleGraph } from '../logic/grouping.js';
import { latencyBaselines, prepare, type Prepared } from '../logic/model.js';
import { parseMuteRules } from '../logic/mute.js';
import { edgeHealth } from '../logic/health.js';
import { edgeRow, type Change } from '../logic/table.js';
import { groupsOf, windowOf, type UiState } from '../logic/url-state.js';
import type { Graph } from '../logic/api-types.js';
import * as fmt from '../logic/format.js';
import { MapView, type EdgeMark, type MapHandle } from './MapView.js';
import { Details } from './Details.js';
import { TableView } from './TableView.js';
import { Toolbar } from './Toolbar.js';
import { SearchBox, type SearchPick } from './SearchBox.js';
import { TokenDialog } from './TokenDialog.js';
import { useUrlState } from './useUrlState.js';
import { useHubData } from './useHubData.js';
import { useLayout } from './useLayout.js';
import { setMapStatus } from './debug.js';
import { AlertsPanel, ALERTS_PANEL_ID } from './AlertsPanel.js';
import { useAlerts } from './useAlerts.js';
import { alertsSignature, edgeOfAlert, firingCount } from '../logic/alerts.js';
import type { AlertItem } from '../logic/api-types.js';
import { onTokenChange, tokenNeeded } from './token.js';

const MUTES_KEY = 'flowscope.mutes';

/** Mute rules are kept with the view: remembered per view, brought back when it is chosen again. */
function rememberedMutes(view: string): string[] | undefined {
  try {
    const all = JSON.parse(localStorage.getItem(MUTES_KEY) ?? '{}') as Record<string, string[]>;
    return Array.isArray(all[view]) ? all[view] : undefined;
  } catch {
    return undefined;
  }
}

function rememberMutes(view: string, mutes: string[]): void {
  try {
    const all = JSON.parse(localStorage.getItem(MUTES_KEY) ?? '{}') as Record<string, string[]>;
    all[view] = mutes;
    localStorage.setItem(MUTES_KEY, JSON.stringify(all));
  } catch {
    // Storage refused: the rules still live in the URL.
  }
}

/** The diff's vanished edges drawn beside the current ones, and each edge's mark. */
function withCompare(graph: Graph, diff: ReturnType<typeof useHubData>['diff']): { graph: Graph; marks: Map<string, EdgeMark> } {
  const marks = new Map<string, EdgeMark>();
  if (!diff) return { graph, marks };
  for (const e of diff.appeared) marks.set(e.id, 'new');
  const have = new Set(graph.edges.map((e) => e.id));
  const nodes = new Map(graph.nodes.map((n) => [n.id, n]));
  const ghosts = diff.vanished.filter((e) => !have.has(e.id));
  for (const e of ghosts) marks.set(e.id, 'vanished');
  for (const n of diff.nodes) if (!nodes.has(n.id)) nodes.set(n.id, n);
  return { graph: { ...graph, nodes: [...nodes.values()], edges: [...graph.edges, ...ghosts] }, marks };
}

export function App() {
  const [state, update] = useUrlState();
  const [tokenVersion, setTokenVersion] = useState(0);
  const [askToken, setAskToken] = useState(tokenNeeded());
  useEffect(
    () =>
      onTokenChange(() => {
        setAskToken(tokenNeeded());
        if (!tokenNeeded()) setTokenVersion((v) => v + 1);
      }),
    [],
  );
  const alerts = useAlerts(tokenVersion);
  const [alertsOpen, setAlertsOpen] = useState(false);
  const alertsButton = useRef<HTMLButtonElement>(null);
  const closeAlerts = useCallback(() => {
    setAlertsOpen(false);
    alertsButton.current?.focus();
  }, []);
  const data = useHubData(state, tokenVersion, alertsSignature(alerts.alerts));
  const mapRef = useRef<MapHandle>(null);
  const pendingCentre = useRef<string | null>(null);
  const previousAuto = useRef<Set<string>>(new Set());
  const visSource = useRef(new WeakMap<VisibleGraph, string>());
  const [notice, setNotice] = useState('');

  const { rules } = useMemo(() => parseMuteRules(state.mutes), [state.mutes]);
  const compared = useMemo(() => (data.graph ? withCompare(data.graph, data.diff) : null), [data.graph, data.diff]);
  const baselines = useMemo(() => latencyBaselines(data.earlier), [data.earlier]);
  const prepared: Prepared | null = useMemo(() => {
    if (!compared) return null;
    const p = prepare(compared.graph, rules, state.failuresOnly, baselines);
    // Vanished edges have no traffic now: their verdict says what they were.
    for (const [id, mark] of compared.marks) if (mark === 'vanished' && p.health.has(id)) p.health.set(id, { health: 'idle', reasons: ['gone: carried traffic in the earlier window, none now'] });
    return p;
  }, [compared, rules, state.failuresOnly, baselines]);
  const levels = groupsOf(state);
  const hierarchy = useMemo(() => (prepared ? buildHierarchy(prepared.nodes, levels) : null), [prepared, levels.join(',')]);
  const expandedSet = useMemo(() => new Set(state.expanded), [state.expanded]);
  const collapsedSet = useMemo(() => new Set(state.collapsed), [state.collapsed]);
  const vis: VisibleGraph | null = useMemo(() => {
    if (!prepared || !hierarchy) return null;
    const started = performance.now();
    const v = visibleGraph(prepared.nodes, prepared.edges, hierarchy, prepared.health, { budget: state.budget, userExpanded: expandedSet, userCollapsed: collapsedSet, previousAuto: previousAuto.current });
    performance.measure('flowscope:group', { start: started, detail: { nodes: prepared.nodes.length, edges: prepared.edges.length } });
    previousAuto.current = new Set(v.autoCollapsed);
    visSource.current.set(v, data.request);
    return v;
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [prepared, hierarchy, state.budget, expandedSet, collapsedSet]);
  const layoutKey = `${state.view}|${levels.join(',')}`;
  const { placed, store, relayout, error: layoutError } = useLayout(state.tab === 'map' ? vis : null, layoutKey);

  const w = useMemo(() => {
    const win = windowOf(state, data.updatedAt || Date.now());
    return { from: new Date(win.from).toISOString(), to: new Date(win.to).toISOString() };
  }, [state.range, state.from, state.to, data.updatedAt]);

  const select = useCallback((id: string | null) => update({ selected: id }), [update]);

  const toggleGroup = useCallback(
    (id: string) => {
      const collapsedNow = vis?.collapsed.has(id) ?? false;
      update((s) => ({
        expanded: collapsedNow ? [...s.expanded.filter((x) => x !== id), id] : s.expanded.filter((x) => x !== id),
        collapsed: collapsedNow ? s.collapsed.filter((x) => x !== id) : [...s.collapsed.filter((x) => x !== id), id],
      }));
      // Show what was opened (or what it closed into) once it is drawn.
      pendingCentre.current = id;
    },
    [vis, update],
  );

  /** Selects a node (or an edge, with its ends) and centres the map on it, expanding the groups that hide it. */
  const reveal = useCallback(
    (id: string, nodes: readonly string[] = [id]) => {
      const hidden = hierarchy ? [...new Set(nodes.flatMap((n) => groupsToReveal(hierarchy, n)))].filter((g) => vis?.collapsed.has(g)) : [];
      update((s) => ({
        selected: id,
        tab: 'map',
        expanded: hidden.length ? [...s.expanded.filter((x) => !hidden.includes(x)), ...hidden] : s.expanded,
        collapsed: hidden.length ? s.collapsed.filter((x) => !hidden.includes(x)) : s.collapsed,
      }));
      if (!mapRef.current?.centreOn(id) || hidden.length) pendingCentre.current = id;
    },
    [hierarchy, vis, update],
  );

  const onPick = useCallback(
    (p: SearchPick) => {
      if (prepared?.nodeById.has(p.id)) {
        reveal(p.id);
        setNotice('');
      } else if (p.view && p.view !== state.view) {
        pendingCentre.current = p.id;
        update({ view: p.view, selected: p.id, expanded: [], collapsed: [], groups: null, neighbourhood: null, tab: 'map', mutes: rememberedMutes(p.view) ?? [] });
        setNotice(`Switched to the ${p.view} view to show ${p.name}.`);
      } else setNotice(`${p.name} had no connections in this window${state.filter ? ' that match the filter' : ''}.`);
    },
    [prepared, reveal, state.view, state.filter, update],
  );

  /** Selects an alert's edge and centres the map on it (expanding what hides its ends), or switches to the view it was raised in. */
  const showAlert = useCallback(
    (a: AlertItem) => {
      const e = prepared ? edgeOfAlert(a, prepared.edges) : undefined;
      if (e) {
        reveal(e.id, [e.source, e.target]);
        setNotice('');
      } else if (a.edge && a.edge.view !== state.view) {
        pendingCentre.current = a.edge.id;
        update({ view: a.edge.view, selected: a.edge.id, expanded: [], collapsed: [], groups: null, neighbourhood: null, tab: 'map', mutes: rememberedMutes(a.edge.view) ?? [] });
        setNotice(`Switched to the ${a.edge.view} view to show ${a.name}.`);
      } else setNotice(`${a.name}: its edge is not on the map in this window${state.filter ? ' or filter' : ''}${state.mutes.length ? ' (or is muted)' : ''}.`);
    },
    [prepared, reveal, update, state.view, state.filter, state.mutes.length],
  );

  useEffect(() => rememberMutes(state.view, state.mutes), [state.view, state.mutes]);

  const onRendered = useCallback((generation: number) => {
    setMapStatus({ ready: true, rendered: generation });
    const id = pendingCentre.current;
    if (id && mapRef.current?.centreOn(id)) pendingCentre.current = null;
  }, []);

  useEffect(() => {
    setMapStatus({ ready: false, generation: placed?.generation ?? 0, query: placed ? (visSource.current.get(placed.vis) ?? '') : '' });
  }, [placed]);

  const rows = useMemo(() => {
    if (!prepared) return [];
    return prepared.edges.map((e) => edgeRow(e, prepared.nodeById, prepared.health.get(e.id) ?? edgeHealth(e), (compared?.marks.get(e.id) ?? '') as Change));
  }, [prepared, compared]);

  const namespaces = useMemo(() => {
    const out = new Set<string>();
    for (const n of data.graph?.nodes ?? []) for (const v of (n.labels.namespace ?? '').split(',')) if (v) out.add(v);
    return [...out];
  }, [data.graph]);

  const copyLink = (): void => {
    const url = window.location.href;
    navigator.clipboard?.writeText(url).then(
      () => setNotice('Link copied.'),
      () => setNotice(`Copy this link: ${url}`),
    );
  };

  const autoGroups = vis ? vis.nodes.filter((n) => n.type === 'group' && vis.autoCollapsed.includes(n.id)) : [];
  const collapseMessage =
    vis && autoGroups.length
      ? `${fmt.count(prepared!.nodes.length)} nodes and ${fmt.count(prepared!.edges.length)} edges are more than the map shows at once (${state.budget} elements): ${autoGroups.length} group${autoGroups.length === 1 ? '' : 's'} collapsed (${summariseLevels(autoGroups.map((g) => g.kind))}). Double-click a box or use its panel to expand it.`
      : '';
  const truncatedMessage = vis?.truncated ? `Showing the ${fmt.count(vis.truncated.shownEdges)} most important of ${fmt.count(vis.truncated.totalEdges)} edges (problems first, then the busiest): filter, mute or use neighbourhood mode to see the rest.` : '';

  useEffect(() => setMapStatus({ message: [collapseMessage, truncatedMessage].filter(Boolean).join(' ') }), [collapseMessage, truncatedMessage]);

  const selectedCollapsed = state.selected ? (vis?.collapsed.has(state.selected) ?? false) : false;
  const error = data.error ?? layoutError;

  return (
    <div className="app">
      <header className="top">
        <h1>flowscope</h1>
        <Toolbar
          state={state}
          update={(p) =>
            update((s) => {
              const patch = typeof p === 'function' ? p(s) : p;
              if (patch.view && patch.view !== s.view) return { expanded: [], collapsed: [], groups: null, selected: null, neighbourhood: null, mutes: rememberedMutes(patch.view) ?? [], ...patch };
              return patch;
            })
          }
          namespaces={namespaces}
          muted={prepared?.muted ?? 0}
          onRelayout={relayout}
          onCopyLink={copyLink}
          search={<SearchBox nodes={prepared?.nodes ?? []} onPick={onPick} />}
          alerts={
            alerts.enabled ? (
              <button ref={alertsButton} type="button" className={`alerts-button${firingCount(alerts.alerts) ? ' firing' : ''}`} aria-expanded={alertsOpen} aria-controls={ALERTS_PANEL_ID} onClick={() => setAlertsOpen((o) => !o)}>
                Alerts <span className="count">{firingCount(alerts.alerts)}</span>
                <span className="visually-hidden"> firing</span>
              </button>
            ) : null
          }
        />
      </header>
      <div className="status" role="status" aria-live="polite" data-testid="status">
        <span className={`live live-${data.stream}`}>{state.range === 'live' ? (data.stream === 'open' ? '● live' : `○ ${data.stream}`) : `${fmt.time(w.from)} – ${fmt.time(w.to)}`}</span>
        {data.status ? (
          <span>
            {data.status.agents.filter((a) => a.reporting).length} of {data.status.agents.length} agents reporting
          </span>
        ) : null}
        {prepared ? (
          <span>
            {fmt.count(prepared.nodes.length)} nodes, {fmt.count(prepared.edges.length)} edges
            {prepared.muted ? `, ${prepared.muted} muted` : ''}
            {prepared.healthyHidden ? `, ${prepared.healthyHidden} healthy hidden` : ''}
          </span>
        ) : null}
        {data.diff ? (
          <span className="compare-summary">
            compared with {fmt.time(data.diff.baseline_from)} – {fmt.time(data.diff.baseline_to)}: {data.diff.appeared.length} new, {data.diff.vanished.length} gone
          </span>
        ) : null}
        {data.loading ? <span>loading…</span> : null}
        {notice ? <span>{notice}</span> : null}
      </div>
      {collapseMessage || truncatedMessage ? (
        <p className="collapse-note" data-testid="collapse-note">
          {collapseMessage} {truncatedMessage}
          {autoGroups.length ? (
            <button type="button" onClick={() => update((s) => ({ expanded: [...new Set([...s.expanded, ...autoGroups.map((g) => g.id)])] }))}>
              Expand all anyway
            </button>
          ) : null}
        </p>
      ) : null}
      {error ? (
        <p className="error" role="alert">
          {error.message}
        </p>
      ) : null}
      <main className={state.selected ? 'with-details' : undefined}>
        {state.tab === 'map' ? (
          <>
            <MapView
              ref={mapRef}
              placed={placed}
              marks={compared?.marks ?? EMPTY_MARKS}
              selected={state.selected}
              initialViewport={state.zoom !== null && state.panX !== null && state.panY !== null ? { zoom: state.zoom, x: state.panX, y: state.panY } : null}
              onSelect={select}
              onToggleGroup={toggleGroup}
              onViewport={(zoom, x, y) => update({ zoom, panX: x, panY: y })}
              onMoved={(id, x, y) => store.set(id, { x, y })}
              onRendered={onRendered}
            />
            <Legend compare={Boolean(data.diff)} />
          </>
        ) : (
          <TableView
            rows={rows}
            sort={state.sort}
            desc={state.desc}
            query={state.query}
            selected={state.selected}
            onSort={(sort, desc) => update({ sort, desc })}
            onQuery={(query) => update({ query })}
            onSelect={select}
          />
        )}
        {alertsOpen && alerts.enabled ? <AlertsPanel data={alerts} onMap={(a) => Boolean(prepared && edgeOfAlert(a, prepared.edges))} onShow={showAlert} onClose={closeAlerts} /> : null}
        {state.selected && prepared ? (
          <Details
            selected={state.selected}
            prepared={prepared}
            vis={vis}
            hierarchy={hierarchy}
            view={state.view}
            window={w}
            refreshKey={Math.floor(data.updatedAt / 15_000)}
            collapsed={selectedCollapsed}
            onSelect={(id) => (id && prepared.nodeById.has(id) && state.tab === 'map' ? reveal(id) : select(id))}
            onToggleGroup={toggleGroup}
            onNeighbourhood={(id) => update({ neighbourhood: id, selected: id })}
            onClose={() => select(null)}
          />
        ) : null}
      </main>
      {askToken ? <TokenDialog /> : null}
    </div>
  );
}

const EMPTY_MARKS: ReadonlyMap<string, EdgeMark> = new Map();

function summariseLevels(kinds: string[]): string {
  const counts = new Map<string, number>();
  for (const k of kinds) counts.set(k, (counts.get(k) ?? 0) + 1);
  const name = (k: string, n: number): string => (k === 'external' ? 'external peers' : k.startsWith('label:') ? `${k.slice(6)} group${n === 1 ? '' : 's'}` : `${k}${n === 1 ? '' : 's'}`);
  return [...counts].map(([k, n]) => `${n} ${name(k, n)}`).join(', ');
}

function Legend({ compare }: { compare: boolean }) {
  return (
    <ul className="legend" aria-label="Legend">
      <li>
        <span className="swatch failing" /> failing (or a critical alert on it)
      </li>
      <li>
        <span className="swatch degraded" /> degraded (some failures, retransmits, slower than before, or a warning alert)
      </li>
      <li>
        <span className="swatch ok" /> healthy
      </li>
      <li>line width: traffic</li>
      {compare ? (
        <>
          <li>
            <span className="swatch new" /> new
          </li>
          <li>
            <span className="swatch gone" /> gone
          </li>
        </>
      ) : null}
    </ul>
  );
}

export type { UiState };
