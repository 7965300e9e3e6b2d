// Everything on screen is in the URL: a copied link reproduces the view. Defaults are left out so
// links stay short; unknown or malformed parameters fall back to defaults (a link is input).

export const RANGES = ['live', '5m', '1h', '24h', 'custom'] as const;
export type RangeKey = (typeof RANGES)[number];
export const COMPARE_SHIFTS = ['1h', '24h', '7d', 'custom'] as const;
export type CompareShift = (typeof COMPARE_SHIFTS)[number];
export type Tab = 'map' | 'table';

export interface UiState {
  view: string;
  tab: Tab;
  range: RangeKey;
  /** Custom range (RFC 3339). */
  from: string;
  to: string;
  /** The hub's filter (namespace=shop,label.app=web). */
  filter: string;
  /** Mute rules, each a comma-separated list of terms (see mute.ts). */
  mutes: string[];
  failuresOnly: boolean;
  /** Group levels, outer first (zone, node, namespace, label:KEY); null: the view's default. */
  groups: string[] | null;
  expanded: string[];
  collapsed: string[];
  /** Visible elements before the map collapses groups on its own. */
  budget: number;
  selected: string | null;
  /** Neighbourhood mode: the node at its centre (the graph shows it and what is within `hops`). */
  neighbourhood: string | null;
  hops: number;
  compare: CompareShift | null;
  /** Custom baseline (RFC 3339). */
  baselineFrom: string;
  baselineTo: string;
  zoom: number | null;
  panX: number | null;
  panY: number | null;
  sort: string;
  desc: boolean;
  query: string;
}

export const DEFAULT_BUDGET = 500;

export const DEFAULT_STATE: UiState = {
  view: 'workload',
  tab: 'map',
  range: 'live',
  from: '',
  to: '',
  filter: '',
  mutes: [],
  failuresOnly: false,
  groups: null,
  expanded: [],
  collapsed: [],
  budget: DEFAULT_BUDGET,
  selected: null,
  neighbourhood: null,
  hops: 1,
  compare: null,
  baselineFrom: '',
  baselineTo: '',
  zoom: null,
  panX: null,
  panY: null,
  sort: 'connections',
  desc: true,
  query: '',
};

const VIEW_RE = /^(process|container|pod|workload|service|namespace|node|zone|label:[^\s]{1,253})$/;
const GROUP_RE = /^(zone|node|namespace|label:[^\s,]{1,253})$/;
const TIME_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

function num(v: string | null, min: number, max: number): number | null {
  if (v === null || v.trim() === '') return null;
  const n = Number(v);
  return Number.isFinite(n) && n >= min && n <= max ? n : null;
}

function oneOf<T extends string>(v: string | null, choices: readonly T[]): T | null {
  return v !== null && (choices as readonly string[]).includes(v) ? (v as T) : null;
}

function time(v: string | null): string {
  return v !== null && TIME_RE.test(v) && Number.isFinite(Date.parse(v)) ? v : '';
}

const MAX_LIST = 200;

export function parseState(search: string): UiState {
  const q = new URLSearchParams(search);
  const s: UiState = { ...DEFAULT_STATE, mutes: [], expanded: [], collapsed: [] };
  const view = q.get('view');
  if (view && VIEW_RE.test(view)) s.view = view;
  s.tab = q.get('tab') === 'table' ? 'table' : 'map';
  s.range = oneOf(q.get('range'), RANGES) ?? 'live';
  s.from = time(q.get('from'));
  s.to = time(q.get('to'));
  if (s.range === 'custom' && (!s.from || !s.to || Date.parse(s.from) >= Date.parse(s.to))) s.range = 'live';
  s.filter = (q.get('filter') ?? '').slice(0, 1000);
  s.mutes = q.getAll('mute').filter((m) => m.trim()).slice(0, MAX_LIST).map((m) => m.slice(0, 500));
  s.failuresOnly = q.get('failures') === '1';
  const groups = q.get('group');
  if (groups !== null) s.groups = groups === '' ? [] : groups.split(',').filter((g) => GROUP_RE.test(g)).slice(0, 4);
  s.expanded = q.getAll('x').slice(0, MAX_LIST);
  s.collapsed = q.getAll('c').slice(0, MAX_LIST);
  s.budget = num(q.get('budget'), 20, 1_000_000) ?? DEFAULT_BUDGET;
  s.selected = q.get('sel') || null;
  s.neighbourhood = q.get('nb') || null;
  s.hops = num(q.get('hops'), 0, 10) ?? 1;
  s.compare = oneOf(q.get('cmp'), COMPARE_SHIFTS);
  s.baselineFrom = time(q.get('bfrom'));
  s.baselineTo = time(q.get('bto'));
  if (s.compare === 'custom' && (!s.baselineFrom || !s.baselineTo || Date.parse(s.baselineFrom) >= Date.parse(s.baselineTo))) s.compare = null;
  s.zoom = num(q.get('z'), 1e-4, 1e4);
  s.panX = num(q.get('px'), -1e9, 1e9);
  s.panY = num(q.get('py'), -1e9, 1e9);
  if (s.zoom === null || s.panX === null || s.panY === null) s.zoom = s.panX = s.panY = null;
  s.sort = (q.get('sort') ?? DEFAULT_STATE.sort).slice(0, 40);
  s.desc = q.get('asc') !== '1';
  s.query = (q.get('q') ?? '').slice(0, 200);
  return s;
}

const round = (n: number, digits: number): string => String(Math.round(n * 10 ** digits) / 10 ** digits);

export function formatState(s: UiState): string {
  const q = new URLSearchParams();
  if (s.view !== DEFAULT_STATE.view) q.set('view', s.view);
  if (s.tab !== 'map') q.set('tab', s.tab);
  if (s.range !== 'live') q.set('range', s.range);
  if (s.range === 'custom') {
    q.set('from', s.from);
    q.set('to', s.to);
  }
  if (s.filter) q.set('filter', s.filter);
  for (const m of s.mutes) q.append('mute', m);
  if (s.failuresOnly) q.set('failures', '1');
  if (s.groups !== null) q.set('group', s.groups.join(','));
  for (const g of s.expanded) q.append('x', g);
  for (const g of s.collapsed) q.append('c', g);
  if (s.budget !== DEFAULT_BUDGET) q.set('budget', String(s.budget));
  if (s.selected) q.set('sel', s.selected);
  if (s.neighbourhood) q.set('nb', s.neighbourhood);
  if (s.hops !== 1) q.set('hops', String(s.hops));
  if (s.compare) q.set('cmp', s.compare);
  if (s.compare === 'custom') {
    q.set('bfrom', s.baselineFrom);
    q.set('bto', s.baselineTo);
  }
  if (s.zoom !== null && s.panX !== null && s.panY !== null) {
    q.set('z', round(s.zoom, 4));
    q.set('px', round(s.panX, 1));
    q.set('py', round(s.panY, 1));
  }
  if (s.sort !== DEFAULT_STATE.sort) q.set('sort', s.sort);
  if (!s.desc) q.set('asc', '1');
  if (s.query) q.set('q', s.query);
  const text = q.toString();
  return text ? `?${text}` : '';
}

const RANGE_MS: Record<Exclude<RangeKey, 'custom'>, number> = { live: 5 * 60_000, '5m': 5 * 60_000, '1h': 3_600_000, '24h': 86_400_000 };
const SHIFT_MS: Record<Exclude<CompareShift, 'custom'>, number> = { '1h': 3_600_000, '24h': 86_400_000, '7d': 7 * 86_400_000 };

export interface TimeWindow {
  from: number;
  to: number;
}

/** The window the state shows, at `now` (ms). */
export function windowOf(s: UiState, now: number): TimeWindow {
  if (s.range === 'custom') return { from: Date.parse(s.from), to: Date.parse(s.to) };
  return { from: now - RANGE_MS[s.range], to: now };
}

/** The earlier window compare mode sets against `w`. */
export function baselineOf(s: UiState, w: TimeWindow): TimeWindow | null {
  if (!s.compare) return null;
  if (s.compare === 'custom') return { from: Date.parse(s.baselineFrom), to: Date.parse(s.baselineTo) };
  const shift = SHIFT_MS[s.compare];
  return { from: w.from - shift, to: w.to - shift };
}

/** The default group levels of a view: boxes only for what is coarser than its nodes. */
export function defaultGroups(view: string): string[] {
  switch (view) {
    case 'process':
    case 'container':
      return ['zone', 'node'];
    case 'pod':
    case 'workload':
    case 'service':
      return ['zone', 'namespace'];
    case 'node':
      return ['zone'];
    default:
      return [];
  }
}

export function groupsOf(s: UiState): string[] {
  return s.groups ?? defaultGroups(s.view);
}
