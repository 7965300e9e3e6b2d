// The details panel: a node's identity, connections and charts; an edge's counters, charts and
// failure-domain breakdown; a group's members. Every name is rendered as text by React.
import { useEffect, useMemo, useState } from 'react';
import { BREAKDOWN_DOMAINS, failureTotal, type BreakdownAnswer, type BreakdownDomain, type GraphEdge, type GraphNode, type HistoryAnswer } from '../logic/api-types.js';
import { HEALTH_COLOURS, type HealthVerdict } from '../logic/health.js';
import { failuresByReason, type Prepared } from '../logic/model.js';
import { groupLabel, isGroupId, type Hierarchy, type VisibleGraph } from '../logic/grouping.js';
import * as fmt from '../logic/format.js';
import { api, HubError, type Params } from './api.js';
import { Chart } from './Chart.js';
import { Options, TableHead } from './controls.js';

export interface DetailsProps {
  selected: string;
  prepared: Prepared;
  vis: VisibleGraph | null;
  hierarchy: Hierarchy | null;
  view: string;
  window: { from: string; to: string };
  refreshKey: number;
  collapsed: boolean;
  onSelect(id: string | null): void;
  onToggleGroup(id: string): void;
  onNeighbourhood(id: string): void;
  onClose(): void;
}

const IDENTITY_FIRST = ['namespace', 'workload', 'service', 'pod', 'container', 'process', 'image', 'version', 'node', 'zone', 'address', 'dns'];

function HealthBadge({ verdict }: { verdict: HealthVerdict | undefined }) {
  const h = verdict?.health ?? 'ok';
  return (
    <span className={`health health-${h}`} style={{ borderColor: HEALTH_COLOURS[h] }}>
      {h}
    </span>
  );
}

function Labels({ labels }: { labels: Record<string, string> }) {
  const keys = Object.keys(labels).sort((a, b) => {
    const ia = IDENTITY_FIRST.indexOf(a);
    const ib = IDENTITY_FIRST.indexOf(b);
    return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib) || a.localeCompare(b);
  });
  if (!keys.length) return <p className="muted">No labels.</p>;
  return (
    <dl className="labels">
      {keys.map((k) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>{labels[k]}</dd>
        </div>
      ))}
    </dl>
  );
}

const HISTORY_METRICS = ['connections', 'failures', 'bytes_sent', 'bytes_received', 'retransmits', 'resets', 'rtt_p50_seconds', 'rtt_p99_seconds', 'connect_p50_seconds', 'connect_p99_seconds', 'requests', 'request_errors', 'request_p50_seconds', 'request_p99_seconds'];

function useHistory(params: Params, refreshKey: number): { data: HistoryAnswer | null; error: string | null } {
  const [state, setState] = useState<{ data: HistoryAnswer | null; error: string | null }>({ data: null, error: null });
  const key = JSON.stringify(params);
  useEffect(() => {
    const abort = new AbortController();
    api.history({ ...params, metric: HISTORY_METRICS.join(',') }, abort.signal).then(
      (data) => setState({ data, error: null }),
      (err: unknown) => {
        if (!abort.signal.aborted) setState({ data: null, error: (err as Error).message });
      },
    );
    return () => abort.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key, refreshKey]);
  return state;
}

function HistoryCharts({ params, refreshKey }: { params: Params; refreshKey: number }) {
  const { data, error } = useHistory(params, refreshKey);
  if (error) return <p className="error">Charts unavailable: {error}</p>;
  if (!data) return <p className="muted">Loading charts…</p>;
  const s = (m: string): Array<number | null> => data.series[m] ?? [];
  const perStep = `per ${data.step_seconds} s`;
  return (
    <div className="charts" data-testid="charts">
      <Chart title={`Connections and failed connects (${perStep})`} times={data.times} format={fmt.count} series={[{ label: 'connections', values: s('connections'), colour: '#3d6fb6' }, { label: 'failed', values: s('failures'), colour: HEALTH_COLOURS.failing }]} />
      <Chart title={`Bytes (${perStep})`} times={data.times} format={fmt.bytes} series={[{ label: 'sent', values: s('bytes_sent'), colour: '#3d6fb6' }, { label: 'received', values: s('bytes_received'), colour: '#7b5ea7' }]} />
      <Chart title={`Retransmits and resets (${perStep})`} times={data.times} format={fmt.count} series={[{ label: 'retransmits', values: s('retransmits'), colour: HEALTH_COLOURS.degraded }, { label: 'resets', values: s('resets'), colour: HEALTH_COLOURS.failing }]} />
      <Chart title="Round-trip time" times={data.times} format={(v) => fmt.seconds(v)} series={[{ label: 'p50', values: s('rtt_p50_seconds'), colour: '#4f8a5b' }, { label: 'p99', values: s('rtt_p99_seconds'), colour: '#b5651d' }]} />
      <Chart title="Connect time" times={data.times} format={(v) => fmt.seconds(v)} series={[{ label: 'p50', values: s('connect_p50_seconds'), colour: '#4f8a5b' }, { label: 'p99', values: s('connect_p99_seconds'), colour: '#b5651d' }]} />
      {s('requests').some((v) => v !== null && v > 0) ? (
        <>
          <Chart title={`Requests and errors (${perStep})`} times={data.times} format={fmt.count} series={[{ label: 'requests', values: s('requests'), colour: '#3d6fb6' }, { label: 'errors', values: s('request_errors'), colour: HEALTH_COLOURS.failing }]} />
          <Chart title="Request duration" times={data.times} format={(v) => fmt.seconds(v)} series={[{ label: 'p50', values: s('request_p50_seconds'), colour: '#4f8a5b' }, { label: 'p99', values: s('request_p99_seconds'), colour: '#b5651d' }]} />
        </>
      ) : null}
    </div>
  );
}

function ReasonBars({ reasons }: { reasons: Array<[string, number]> }) {
  if (!reasons.length) return <p className="muted">No failed connects in this window.</p>;
  const max = Math.max(...reasons.map(([, n]) => n));
  return (
    <table className="bars" aria-label="Failed connects by reason">
      <tbody>
        {reasons.map(([r, n]) => (
          <tr key={r}>
            <th scope="row">{r}</th>
            <td className="bar-cell">
              <span className="bar bar-problem" style={{ width: `${(100 * n) / max}%` }} />
            </td>
            <td className="num">{fmt.count(n)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function EdgeList({ title, edges, nodes, peer, health, onSelect }: { title: string; edges: GraphEdge[]; nodes: ReadonlyMap<string, GraphNode>; peer: 'source' | 'target'; health: ReadonlyMap<string, HealthVerdict>; onSelect(id: string): void }) {
  if (!edges.length) return null;
  const shown = [...edges].sort((a, b) => b.connections - a.connections).slice(0, 50);
  return (
    <section>
      <h3>
        {title} ({edges.length})
      </h3>
      <table className="compact">
        <TableHead columns={[{ label: peer === 'target' ? 'Server' : 'Client' }, { label: 'Port' }, { label: 'Conns', numeric: true }, { label: 'Failed', numeric: true }, { label: 'Health' }]} />
        <tbody>
          {shown.map((e) => (
            <tr key={e.id}>
              <td>
                <button type="button" className="link" onClick={() => onSelect(e.id)}>
                  {nodes.get(e[peer])?.name ?? e[peer]}
                </button>
              </td>
              <td>{e.port}</td>
              <td className="num">{fmt.count(e.connections)}</td>
              <td className="num">{fmt.count(failureTotal(e))}</td>
              <td>
                <HealthBadge verdict={health.get(e.id)} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {edges.length > shown.length ? <p className="muted">The 50 busiest of {edges.length} are listed; the table view has all.</p> : null}
    </section>
  );
}

function NodeDetails({ node, p, view, window, refreshKey, onSelect, onNeighbourhood }: { node: GraphNode; p: Prepared; view: string; window: DetailsProps['window']; refreshKey: number; onSelect(id: string): void; onNeighbourhood(id: string): void }) {
  const outgoing = useMemo(() => p.edges.filter((e) => e.source === node.id), [p, node.id]);
  const incoming = useMemo(() => p.edges.filter((e) => e.target === node.id), [p, node.id]);
  const reasons = useMemo(() => failuresByReason(outgoing), [outgoing]);
  return (
    <>
      <header>
        <p className="kind">{node.kind}</p>
        <h2 className="name">{node.name}</h2>
        <p className="id">{node.id}</p>
        <div className="actions">
          <button type="button" onClick={() => onNeighbourhood(node.id)}>
            Neighbourhood from here
          </button>
        </div>
      </header>
      <section>
        <h3>Identity</h3>
        <Labels labels={node.labels} />
      </section>
      <EdgeList title="Calls" edges={outgoing} nodes={p.nodeById} peer="target" health={p.health} onSelect={onSelect} />
      <EdgeList title="Called by" edges={incoming} nodes={p.nodeById} peer="source" health={p.health} onSelect={onSelect} />
      <section>
        <h3>Failed connects by reason</h3>
        <ReasonBars reasons={reasons} />
      </section>
      <section>
        <h3>Over time</h3>
        <HistoryCharts params={{ node: node.id, view, from: window.from, to: window.to }} refreshKey={refreshKey} />
      </section>
    </>
  );
}

export function BreakdownTable({ edgeId, window, refreshKey, onEdge }: { edgeId: string; window: DetailsProps['window']; refreshKey: number; onEdge?: (edge: GraphEdge) => void }) {
  const [by, setBy] = useState<BreakdownDomain>('pod');
  const [state, setState] = useState<{ data: BreakdownAnswer | null; error: string | null }>({ data: null, error: null });
  useEffect(() => {
    const abort = new AbortController();
    setState((s) => ({ data: s.data?.by === by ? s.data : null, error: null }));
    api.breakdown({ edge: edgeId, by, from: window.from, to: window.to }, abort.signal).then(
      (data) => {
        setState({ data, error: null });
        // The breakdown's edge carries each side's own view (the map's graph leaves them out).
        onEdge?.(data.edge);
      },
      (err: unknown) => {
        if (!abort.signal.aborted) setState({ data: null, error: err instanceof HubError ? err.message : String(err) });
      },
    );
    return () => abort.abort();
  }, [edgeId, by, window.from, window.to, refreshKey]);
  const d = state.data;
  return (
    <section className="breakdown" data-testid="breakdown">
      <h3>Where the problems are</h3>
      <label>
        Split by{' '}
        <select value={by} onChange={(e) => setBy(e.target.value as BreakdownDomain)}>
          <Options values={BREAKDOWN_DOMAINS} />
        </select>
      </label>
      {state.error ? <p className="error">{state.error}</p> : null}
      {!d && !state.error ? <p className="muted">Loading…</p> : null}
      {d ? (
        <>
          <p className="muted">
            {fmt.count(d.total.connections)} connections, {fmt.count(d.total.failures)} failed connects, {fmt.count(d.total.resets)} resets, {fmt.count(d.total.slow)} slow
            {d.total.request_errors !== undefined ? `, ${fmt.count(d.total.request_errors)} failed requests` : ''}
            {d.total.slow_connect_seconds !== null ? ` (connect ≥ ${fmt.seconds(d.total.slow_connect_seconds)})` : ''}. Ranked by share of the problems; the bar beside it is the share of the traffic.
          </p>
          <table className="ranked" aria-label={`Failure domains by ${d.by}`}>
            <TableHead
              columns={[
                { label: '#' },
                { label: 'Side' },
                { label: d.by },
                { label: 'Share of problems' },
                { label: 'Share of traffic' },
                { label: 'Failed', numeric: true },
                { label: 'Resets', numeric: true },
                { label: 'Slow', numeric: true },
                ...(d.total.request_errors !== undefined ? [{ label: 'Failed requests', numeric: true }] : []),
                { label: 'Connect p99', numeric: true },
              ]}
            />
            <tbody>
              {d.parts.map((part, i) => (
                <tr key={`${part.side}:${part.value}`}>
                  <td>{i + 1}</td>
                  <td>{part.side}</td>
                  <th scope="row" className="value">
                    {part.value}
                  </th>
                  <td className="bar-cell">
                    <span className="bar bar-problem" style={{ width: `${Math.round(part.problem_share * 100)}%` }} />
                    <span className="bar-label">{fmt.percent(part.problem_share)}</span>
                  </td>
                  <td className="bar-cell">
                    <span className="bar bar-traffic" style={{ width: `${Math.round(part.traffic_share * 100)}%` }} />
                    <span className="bar-label">{fmt.percent(part.traffic_share)}</span>
                  </td>
                  <td className="num">{fmt.count(part.failure_count)}</td>
                  <td className="num">{fmt.count(part.resets)}</td>
                  <td className="num">{fmt.count(part.slow)}</td>
                  {d.total.request_errors !== undefined ? <td className="num">{fmt.count(part.request_errors ?? 0)}</td> : null}
                  <td className="num">{fmt.seconds(part.connect_p99_seconds)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      ) : null}
    </section>
  );
}

function Counters({ e: edge, sides }: { e: GraphEdge; sides: GraphEdge | null }) {
  const e = { ...edge, client: edge.client ?? (sides?.id === edge.id ? sides.client : undefined), server: edge.server ?? (sides?.id === edge.id ? sides.server : undefined) };
  const rows: Array<[string, string, string, string]> = [
    ['Connections', fmt.count(e.connections), e.client ? fmt.count(e.client.connections) : '–', e.server ? fmt.count(e.server.connections) : '–'],
    ['Failed connects', fmt.count(failureTotal(e)), e.client ? fmt.count(e.client.failures) : '–', '–'],
    ['Bytes sent by client', fmt.bytes(e.bytes_sent), e.client ? fmt.bytes(e.client.bytes_sent) : '–', e.server ? fmt.bytes(e.server.bytes_received) : '–'],
    ['Bytes sent by server', fmt.bytes(e.bytes_received), e.client ? fmt.bytes(e.client.bytes_received) : '–', e.server ? fmt.bytes(e.server.bytes_sent) : '–'],
    ['Retransmits', fmt.count(e.retransmits), e.client ? fmt.count(e.client.retransmits) : '–', e.server ? fmt.count(e.server.retransmits) : '–'],
    ['Resets', fmt.count(e.resets), e.client ? fmt.count(e.client.resets_sent + e.client.resets_received) : '–', e.server ? fmt.count(e.server.resets_sent + e.server.resets_received) : '–'],
    ['RTT p50 / p99', `${fmt.seconds(e.rtt_p50_seconds)} / ${fmt.seconds(e.rtt_p99_seconds)}`, e.client ? `${fmt.seconds(e.client.rtt_p50_seconds)} / ${fmt.seconds(e.client.rtt_p99_seconds)}` : '–', e.server ? `${fmt.seconds(e.server.rtt_p50_seconds)} / ${fmt.seconds(e.server.rtt_p99_seconds)}` : '–'],
    ['Connect p50 / p99', `${fmt.seconds(e.connect_p50_seconds)} / ${fmt.seconds(e.connect_p99_seconds)}`, '', ''],
    ['Open now', fmt.count(e.active), e.client ? fmt.count(e.client.active) : '–', e.server ? fmt.count(e.server.active) : '–'],
  ];
  return (
    <table className="compact counters">
      <TableHead columns={[{ label: '' }, { label: 'Edge', numeric: true }, { label: "Client's view", numeric: true }, { label: "Server's view", numeric: true }]} />
      <tbody>
        {rows.map(([label, edge, client, server]) => (
          <tr key={label}>
            <th scope="row">{label}</th>
            <td className="num">{edge}</td>
            <td className="num">{client}</td>
            <td className="num">{server}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** Status keys in the order an SRE reads them: errors first, then the rest by count. */
function statusOrder([a, na]: [string, number], [b, nb]: [string, number]): number {
  const rank = (k: string): number => (k === '5xx' || (k.startsWith('grpc:') && k !== 'grpc:OK') ? 0 : k === '4xx' || k === 'none' ? 1 : 2);
  return rank(a) - rank(b) || nb - na;
}

/** Requests on the edge (agents with --l7): rate, error ratio, status classes and durations. */
function RequestCounters({ e, window }: { e: GraphEdge; window: DetailsProps['window'] }) {
  if (e.requests === undefined) return null;
  const seconds = Math.max(1, (Date.parse(window.to) - Date.parse(window.from)) / 1000);
  const errors = e.request_errors ?? 0;
  const statuses = Object.entries(e.requests_by_status ?? {}).sort(statusOrder);
  return (
    <section data-testid="requests">
      <h3>Requests</h3>
      <dl className="labels requests">
        <div>
          <dt>requests/s</dt>
          <dd>
            {(e.requests / seconds).toFixed(e.requests / seconds >= 10 ? 0 : 2)} ({fmt.count(e.requests)} in the window)
          </dd>
        </div>
        <div>
          <dt>errors</dt>
          <dd className={errors > 0 ? 'problem' : undefined}>
            {fmt.percent(e.requests > 0 ? errors / e.requests : 0)} ({fmt.count(errors)}: 5xx, gRPC not OK)
          </dd>
        </div>
        <div>
          <dt>by status</dt>
          <dd data-testid="request-statuses">{statuses.map(([k, n]) => `${k} ${fmt.count(n)}`).join(' · ') || '–'}</dd>
        </div>
        <div>
          <dt>p50 / p99</dt>
          <dd>
            {fmt.seconds(e.request_p50_seconds ?? null)} / {fmt.seconds(e.request_p99_seconds ?? null)}
          </dd>
        </div>
      </dl>
    </section>
  );
}

function EdgeDetails({ edge, p, window, refreshKey, onSelect }: { edge: GraphEdge; p: Prepared; window: DetailsProps['window']; refreshKey: number; onSelect(id: string): void }) {
  const verdict = p.health.get(edge.id);
  const [sides, setSides] = useState<GraphEdge | null>(null);
  const src = p.nodeById.get(edge.source);
  const dst = p.nodeById.get(edge.target);
  return (
    <>
      <header>
        <p className="kind">
          connection · {edge.protocol} port {edge.port} <HealthBadge verdict={verdict} />
        </p>
        <h2 className="name">
          <button type="button" className="link" onClick={() => onSelect(edge.source)}>
            {src?.name ?? edge.source}
          </button>{' '}
          →{' '}
          <button type="button" className="link" onClick={() => onSelect(edge.target)}>
            {dst?.name ?? edge.target}
          </button>
        </h2>
        <p className="id">
          Reported by {edge.sides.join(' and ')}
          {edge.sides.length === 2 ? ' (both ends joined)' : ''}
        </p>
      </header>
      {verdict?.reasons.length ? (
        <ul className="reasons">
          {verdict.reasons.map((r) => (
            <li key={r}>{r}</li>
          ))}
        </ul>
      ) : null}
      {edge.alerts?.length ? (
        <section>
          <h3>Alerts in this window</h3>
          <ul className="edge-alerts">
            {edge.alerts.map((m) => (
              <li key={m.id} data-alert-id={m.id}>
                <span className={`severity severity-${m.severity}`}>{m.severity}</span> {m.name}, {m.state} since {fmt.time(m.since)}
              </li>
            ))}
          </ul>
        </section>
      ) : null}
      <section>
        <h3>This window</h3>
        <Counters e={edge} sides={sides} />
        <ReasonBars reasons={Object.entries(edge.failures).filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1])} />
      </section>
      <RequestCounters e={edge} window={window} />
      <BreakdownTable edgeId={edge.id} window={window} refreshKey={refreshKey} onEdge={setSides} />
      <section>
        <h3>Over time</h3>
        <HistoryCharts params={{ edge: edge.id, from: window.from, to: window.to }} refreshKey={refreshKey} />
      </section>
    </>
  );
}

function GroupDetails({ id, vis, p, hierarchy, collapsed, onToggle, onSelect }: { id: string; vis: VisibleGraph | null; p: Prepared; hierarchy: Hierarchy | null; collapsed: boolean; onToggle(): void; onSelect(id: string): void }) {
  const node = vis?.nodes.find((n) => n.id === id);
  const box = vis?.boxes.find((b) => b.id === id);
  const group = node?.group ?? box?.group;
  if (!group) return <p className="muted">This group is not on the map any more.</p>;
  const members = p.nodes.filter((n) => hierarchy?.chains.get(n.id)?.includes(id));
  return (
    <>
      <header>
        <p className="kind">group · {group.level}</p>
        <h2 className="name">{groupLabel(group)}</h2>
        <p className="id">
          {group.size} members{node ? `, ${node.internalEdges} connections inside` : ''}
        </p>
        <div className="actions">
          <button type="button" onClick={onToggle}>
            {collapsed ? 'Expand' : 'Collapse'}
          </button>
        </div>
      </header>
      <section>
        <h3>Members</h3>
        <ul className="members">
          {members.slice(0, 100).map((m) => (
            <li key={m.id}>
              <button type="button" className="link" onClick={() => onSelect(m.id)}>
                {m.name}
              </button>{' '}
              <span className="muted">{m.kind}</span>
            </li>
          ))}
        </ul>
        {members.length > 100 ? <p className="muted">And {members.length - 100} more.</p> : null}
      </section>
    </>
  );
}

function AggregateDetails({ id, vis, p, onSelect }: { id: string; vis: VisibleGraph | null; p: Prepared; onSelect(id: string): void }) {
  const e = vis?.edges.find((x) => x.id === id);
  if (!e) return <p className="muted">These connections are not on the map any more.</p>;
  const name = (nid: string): string => vis?.nodes.find((n) => n.id === nid)?.label ?? nid;
  return (
    <>
      <header>
        <p className="kind">
          {e.members.length} connections grouped · ports {e.ports.join(', ')}
        </p>
        <h2 className="name">
          {name(e.source)} → {name(e.target)}
        </h2>
      </header>
      {e.reasons.length ? (
        <ul className="reasons">
          {e.reasons.map((r) => (
            <li key={r}>{r}</li>
          ))}
        </ul>
      ) : null}
      <EdgeList title="Connections" edges={e.members} nodes={p.nodeById} peer="target" health={p.health} onSelect={onSelect} />
    </>
  );
}

export function Details(props: DetailsProps) {
  const { selected, prepared: p } = props;
  const node = p.nodeById.get(selected);
  const edge = node ? undefined : p.edges.find((e) => e.id === selected);
  let body;
  if (node) body = <NodeDetails node={node} p={p} view={props.view} window={props.window} refreshKey={props.refreshKey} onSelect={props.onSelect} onNeighbourhood={props.onNeighbourhood} />;
  else if (edge) body = <EdgeDetails edge={edge} p={p} window={props.window} refreshKey={props.refreshKey} onSelect={props.onSelect} />;
  else if (isGroupId(selected)) body = <GroupDetails id={selected} vis={props.vis} p={p} hierarchy={props.hierarchy} collapsed={props.collapsed} onToggle={() => props.onToggleGroup(selected)} onSelect={props.onSelect} />;
  else if (selected.startsWith('agg:')) body = <AggregateDetails id={selected} vis={props.vis} p={p} onSelect={props.onSelect} />;
  else body = <p className="muted">Nothing called {selected} in this window.</p>;
  return (
    <aside className="details" aria-label="Details" data-testid="details">
      <button type="button" className="close" onClick={props.onClose} aria-label="Close details">
        ×
      </button>
      {body}
    </aside>
  );
}
