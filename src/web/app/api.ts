// The hub's query API: GET requests (and the silences' POST and DELETE) with the bearer token when
// one was given; errors carry the hub's message (which names the parameter at fault). A 401 asks
// the user for the token.
import type { AlertsAnswer, BreakdownAnswer, DiffAnswer, Graph, HistoryAnswer, NeighbourhoodAnswer, SearchAnswer, SilenceItem, SilencesAnswer, StatusAnswer } from '../logic/api-types.js';
import type { SilenceRequest } from '../logic/alerts.js';
import { getToken } from './token.js';

export class HubError extends Error {
  override name = 'HubError';
  constructor(
    readonly status: number,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

export type Params = Record<string, string | number | undefined | null>;

export function authHeaders(): Record<string, string> {
  const token = getToken();
  return token ? { authorization: `Bearer ${token}` } : {};
}

export function query(params: Params): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  return q.toString();
}

async function answer<T>(res: Response): Promise<T> {
  const text = await res.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    throw new HubError(res.status, `the hub answered ${res.status} with something that is not JSON`);
  }
  if (!res.ok) {
    const b = body as { error?: string; field?: string } | undefined;
    throw new HubError(res.status, b?.error ?? `the hub answered ${res.status}`, b?.field);
  }
  return body as T;
}

export async function get<T>(path: string, params: Params = {}, signal?: AbortSignal): Promise<T> {
  const qs = query(params);
  return answer<T>(await fetch(`${path}${qs ? `?${qs}` : ''}`, { headers: { accept: 'application/json', ...authHeaders() }, signal, cache: 'no-store' }));
}

/** The few writes the UI makes (silences: they change what receivers get, never a workload). */
async function send<T>(method: 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json', ...authHeaders() };
  if (body !== undefined) headers['content-type'] = 'application/json';
  return answer<T>(await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' }));
}

export const api = {
  graph: (p: Params, signal?: AbortSignal) => get<Graph>('/api/v1/graph', p, signal),
  neighbourhood: (p: Params, signal?: AbortSignal) => get<NeighbourhoodAnswer>('/api/v1/neighbourhood', p, signal),
  search: (p: Params, signal?: AbortSignal) => get<SearchAnswer>('/api/v1/search', p, signal),
  breakdown: (p: Params, signal?: AbortSignal) => get<BreakdownAnswer>('/api/v1/breakdown', p, signal),
  diff: (p: Params, signal?: AbortSignal) => get<DiffAnswer>('/api/v1/diff', p, signal),
  history: (p: Params, signal?: AbortSignal) => get<HistoryAnswer>('/api/v1/history', p, signal),
  status: (signal?: AbortSignal) => get<StatusAnswer>('/api/v1/status', {}, signal),
  alerts: (signal?: AbortSignal) => get<AlertsAnswer>('/api/v1/alerts', { state: 'active' }, signal),
  silences: (signal?: AbortSignal) => get<SilencesAnswer>('/api/v1/silences', {}, signal),
  silence: (request: SilenceRequest) => send<SilenceItem>('POST', '/api/v1/silences', request),
  expireSilence: (id: string) => send<SilenceItem>('DELETE', `/api/v1/silences/${encodeURIComponent(id)}`),
};
