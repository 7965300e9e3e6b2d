// The controls above the map: view, boxes, time range, compare, filters, mute rules and switches.
// Each writes the URL state; nothing here acts on the cluster.
import { useEffect, useState } from 'react';
import { VIEWS } from '../logic/api-types.js';
import { parseMuteRules } from '../logic/mute.js';
import { COMPARE_SHIFTS, defaultGroups, RANGES, type UiState } from '../logic/url-state.js';
import type { StatePatch } from './useUrlState.js';
import { Options } from './controls.js';

const RANGE_LABELS: Record<string, string> = { live: 'Live (last 5 min)', '5m': 'Last 5 min', '1h': 'Last hour', '24h': 'Last 24 h', custom: 'Custom…' };
const COMPARE_LABELS: Record<string, string> = { '': 'No comparison', '1h': 'Compare with 1 h earlier', '24h': 'Compare with 24 h earlier', '7d': 'Compare with 7 days earlier', custom: 'Compare with…' };
const GROUP_CHOICES = ['zone,namespace', 'namespace', 'zone,node', 'node', 'zone', ''];

/** datetime-local (local time) <-> RFC 3339. */
const toLocal = (iso: string): string => {
  if (!iso) return '';
  const d = new Date(iso);
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
};
const fromLocal = (v: string): string => (v ? new Date(v).toISOString() : '');

function TimeInputs({ label, from, to, onApply }: { label: string; from: string; to: string; onApply(from: string, to: string): void }) {
  const [f, setF] = useState(toLocal(from));
  const [t, setT] = useState(toLocal(to));
  const ok = f && t && Date.parse(fromLocal(f)) < Date.parse(fromLocal(t));
  return (
    <span className="time-inputs" role="group" aria-label={label}>
      <label>
        from <input type="datetime-local" step={1} value={f} onChange={(e) => setF(e.target.value)} />
      </label>
      <label>
        to <input type="datetime-local" step={1} value={t} onChange={(e) => setT(e.target.value)} />
      </label>
      <button type="button" disabled={!ok} onClick={() => onApply(fromLocal(f), fromLocal(t))}>
        Apply
      </button>
    </span>
  );
}

/** The hub filter split into what the controls edit (namespace, labels) and the other terms. */
export function splitFilter(filter: string): { namespace: string; labels: string; other: string } {
  const terms = filter
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  const ns = terms.find((t) => /^namespace\s*=/.test(t));
  return {
    namespace: ns ? ns.slice(ns.indexOf('=') + 1).trim() : '',
    labels: terms
      .filter((t) => t.startsWith('label.'))
      .map((t) => t.slice(6))
      .join(', '),
    other: terms.filter((t) => t !== ns && !t.startsWith('label.')).join(', '),
  };
}

export function joinFilter(namespace: string, labels: string, other: string): string {
  const terms: string[] = [];
  if (namespace) terms.push(`namespace=${namespace}`);
  for (const l of labels.split(',').map((x) => x.trim())) if (l) terms.push(`label.${l}`);
  for (const o of other.split(',').map((x) => x.trim())) if (o) terms.push(o);
  return terms.join(',');
}

function FilterControls({ filter, namespaces, onChange }: { filter: string; namespaces: string[]; onChange(f: string): void }) {
  const parts = splitFilter(filter);
  const [labels, setLabels] = useState(parts.labels);
  const [other, setOther] = useState(parts.other);
  useEffect(() => {
    setLabels(parts.labels);
    setOther(parts.other);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [filter]);
  const options = [...new Set([...namespaces, ...(parts.namespace ? [parts.namespace] : [])])].sort();
  return (
    <fieldset className="filters">
      <legend>Filter</legend>
      <label>
        Namespace{' '}
        <select value={parts.namespace} onChange={(e) => onChange(joinFilter(e.target.value, parts.labels, parts.other))}>
          <option value="">all</option>
          <Options values={options} />
        </select>
      </label>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          onChange(joinFilter(parts.namespace, labels, other));
        }}
      >
        <label>
          Labels <input value={labels} onChange={(e) => setLabels(e.target.value)} placeholder="app=web, tier=db" size={14} />
        </label>{' '}
        <label>
          Other <input value={other} onChange={(e) => setOther(e.target.value)} placeholder="port=443, node=a" size={12} />
        </label>{' '}
        <button type="submit">Apply</button>
      </form>
    </fieldset>
  );
}

function MuteRules({ mutes, muted, onChange }: { mutes: string[]; muted: number; onChange(m: string[]): void }) {
  const [text, setText] = useState('');
  const { errors } = parseMuteRules(mutes);
  const newError = text.trim() ? parseMuteRules([text]).errors[0]?.message : undefined;
  return (
    <fieldset className="mutes">
      <legend>
        Muted{mutes.length ? ` (${mutes.length} rule${mutes.length === 1 ? '' : 's'}, ${muted} edge${muted === 1 ? '' : 's'} hidden)` : ''}
      </legend>
      <ul>
        {mutes.map((m) => (
          <li key={m}>
            <code>{m}</code>
            {errors.find((e) => e.text === m) ? <span className="error"> {errors.find((e) => e.text === m)!.message}</span> : null}{' '}
            <button type="button" aria-label={`Remove mute rule ${m}`} onClick={() => onChange(mutes.filter((x) => x !== m))}>
              ×
            </button>
          </li>
        ))}
      </ul>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (!text.trim() || newError || mutes.includes(text.trim())) return;
          onChange([...mutes, text.trim()]);
          setText('');
        }}
      >
        <label>
          Mute <input value={text} onChange={(e) => setText(e.target.value)} placeholder="port=9090 or source=kubelet" size={18} aria-invalid={newError ? true : undefined} aria-describedby="mute-help" />
        </label>{' '}
        <button type="submit" disabled={!text.trim() || Boolean(newError)}>
          Add
        </button>
        <span id="mute-help" className={newError ? 'error' : 'muted'}>
          {newError ?? ' terms: port, protocol, source, target, name, namespace, any label; * matches anything'}
        </span>
      </form>
    </fieldset>
  );
}

export interface ToolbarProps {
  state: UiState;
  update(p: StatePatch): void;
  namespaces: string[];
  muted: number;
  onRelayout(): void;
  onCopyLink(): void;
  search: React.ReactNode;
  /** The Alerts button (absent when the hub runs no alerting). */
  alerts?: React.ReactNode;
}

export function Toolbar({ state: s, update, namespaces, muted, onRelayout, onCopyLink, search, alerts }: ToolbarProps) {
  const groups = s.groups ?? defaultGroups(s.view);
  const groupText = groups.join(',');
  return (
    <div className="toolbar" role="toolbar" aria-label="Map controls">
      <div className="row">
        {search}
        <label>
          View{' '}
          <select value={VIEWS.includes(s.view as (typeof VIEWS)[number]) ? s.view : 'label'} onChange={(e) => update({ view: e.target.value === 'label' ? 'label:app' : e.target.value })}>
            <Options values={VIEWS} />
            <option value="label">by label…</option>
          </select>
        </label>
        {s.view.startsWith('label:') ? (
          <label>
            label key{' '}
            <input
              defaultValue={s.view.slice(6)}
              size={8}
              onKeyDown={(e) => {
                if (e.key === 'Enter' && e.currentTarget.value.trim()) update({ view: `label:${e.currentTarget.value.trim()}` });
              }}
            />
          </label>
        ) : null}
        <label>
          Boxes{' '}
          <select value={groupText} onChange={(e) => update({ groups: e.target.value ? e.target.value.split(',') : [], expanded: [], collapsed: [] })}>
            <Options values={[...new Set([groupText, ...GROUP_CHOICES])]} label={(g) => (g ? g.split(',').join(' › ') : 'none')} />
          </select>
        </label>
        <label>
          Time{' '}
          <select value={s.range} onChange={(e) => update(e.target.value === 'custom' ? { range: 'custom', from: s.from || new Date(Date.now() - 3_600_000).toISOString(), to: s.to || new Date().toISOString() } : { range: e.target.value as UiState['range'] })}>
            <Options values={RANGES} label={(r) => RANGE_LABELS[r]!} />
          </select>
        </label>
        {s.range === 'custom' ? <TimeInputs label="Custom time range" from={s.from} to={s.to} onApply={(from, to) => update({ from, to })} /> : null}
        <label>
          <select
            aria-label="Compare"
            value={s.compare ?? ''}
            onChange={(e) => {
              const v = e.target.value;
              if (!v) update({ compare: null });
              else if (v === 'custom') update({ compare: 'custom', baselineFrom: s.baselineFrom || new Date(Date.now() - 7_200_000).toISOString(), baselineTo: s.baselineTo || new Date(Date.now() - 3_600_000).toISOString() });
              else update({ compare: v as UiState['compare'] });
            }}
          >
            <Options values={['', ...COMPARE_SHIFTS]} label={(c) => COMPARE_LABELS[c]!} />
          </select>
        </label>
        {s.compare === 'custom' ? <TimeInputs label="Baseline window" from={s.baselineFrom} to={s.baselineTo} onApply={(baselineFrom, baselineTo) => update({ baselineFrom, baselineTo })} /> : null}
        <label className="switch">
          <input type="checkbox" checked={s.failuresOnly} onChange={(e) => update({ failuresOnly: e.target.checked })} /> Failures only
        </label>
        <span className="tabs" role="tablist" aria-label="Show as">
          <button type="button" role="tab" aria-selected={s.tab === 'map'} onClick={() => update({ tab: 'map' })}>
            Map
          </button>
          <button type="button" role="tab" aria-selected={s.tab === 'table'} onClick={() => update({ tab: 'table' })}>
            Table
          </button>
        </span>
        <button type="button" onClick={onRelayout} title="Lay the map out again from scratch">
          Re-layout
        </button>
        <button type="button" onClick={onCopyLink} title="Copy a link to this view">
          Copy link
        </button>
        {alerts}
      </div>
      <div className="row">
        <FilterControls filter={s.filter} namespaces={namespaces} onChange={(filter) => update({ filter })} />
        <MuteRules mutes={s.mutes} muted={muted} onChange={(mutes) => update({ mutes })} />
        {s.neighbourhood ? (
          <fieldset className="neighbourhood">
            <legend>Neighbourhood</legend>
            <span className="name">{s.neighbourhood}</span>{' '}
            <label>
              hops <input type="number" min={0} max={10} value={s.hops} onChange={(e) => update({ hops: Math.max(0, Math.min(10, Number(e.target.value) || 0)) })} size={3} />
            </label>{' '}
            <button type="button" onClick={() => update({ neighbourhood: null })}>
              Show everything
            </button>
          </fieldset>
        ) : null}
      </div>
    </div>
  );
}
