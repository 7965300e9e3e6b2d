// The alerting part of the hub's API:
//   GET    /api/v1/alerts              ?state=active|firing|pending|resolved|all&since=-1h&family=&edge=
//   GET    /api/v1/alerts/status       receivers, what is watched, learning
//   GET    /api/v1/alerts/baseline     ?edge=ID: an edge's history, median, MAD, band and value now
//   GET    /api/v1/silences            silences and mutes, active and expired
//   POST   /api/v1/silences            {kind: silence|mute, matchers: [...], duration | ends_at, comment, created_by}
//   DELETE /api/v1/silences/ID         expires one now
import type { IncomingMessage } from 'node:http';
import { readBody } from '../api/ingest-http.js';
import { ApiError, badRequest, parseChoice, parseTime, requireParam } from '../api/params.js';
import type { Alert } from './model.js';
import type { AlertService, PendingAlert } from './service.js';
import { SilenceError } from './silences.js';

export const ALERT_STATES = ['active', 'firing', 'pending', 'resolved', 'all'] as const;
export const ALERT_FAMILIES = ['edge', 'dns', 'new_dependency'] as const;

const MAX_SILENCE_BODY = 64 << 10;

export interface ApiAnswer {
  status: number;
  body: unknown;
}

/** Answers an alerting request, or undefined when the path is not alerting's. */
export async function alertsApi(service: AlertService, req: IncomingMessage, url: URL, nowMs: number): Promise<ApiAnswer | undefined> {
  const path = url.pathname;
  const q = url.searchParams;
  const method = req.method ?? 'GET';
  const isRead = method === 'GET' || method === 'HEAD';
  if (path === '/api/v1/alerts') {
    if (!isRead) throw new ApiError(405, `method: ${method} is not allowed on ${path}: use GET`, 'method');
    const state = parseChoice(q, 'state', ALERT_STATES, 'active');
    const family = q.get('family');
    if (family && !(ALERT_FAMILIES as readonly string[]).includes(family)) throw badRequest('family', `'${family}' is not one of ${ALERT_FAMILIES.join(', ')}`);
    const since = q.get('since') ? parseTime(q.get('since')!, 'since', nowMs) : nowMs - 24 * 3_600_000;
    const edge = q.get('edge');
    const all = service.alerts(state === 'resolved' || state === 'all' ? since : nowMs + 1);
    const keep = (a: Alert | PendingAlert): boolean => {
      if (family && a.family !== family) return false;
      if (edge && ('subject' in a ? a.subject : a.edge?.id) !== edge) return false;
      switch (state) {
        case 'active':
          return a.state !== 'resolved';
        case 'all':
          return true;
        default:
          return a.state === state;
      }
    };
    const list = all.filter(keep);
    const alerts = list.filter((a): a is Alert => a.state !== 'pending');
    const pending = list.filter((a): a is PendingAlert => a.state === 'pending');
    return { status: 200, body: { alerts, pending } };
  }
  if (path === '/api/v1/alerts/status') {
    if (!isRead) throw new ApiError(405, `method: ${method} is not allowed on ${path}: use GET`, 'method');
    return { status: 200, body: service.status() };
  }
  if (path === '/api/v1/alerts/baseline') {
    if (!isRead) throw new ApiError(405, `method: ${method} is not allowed on ${path}: use GET`, 'method');
    const edge = requireParam(q, 'edge', `the id of an edge in the ${service.engine.config.view} view (from /api/v1/graph?view=${service.engine.config.view} or an alert)`);
    const b = service.baseline(edge);
    if (b === undefined) throw new ApiError(404, `edge: '${edge}' is not an edge alerting watches (alerts are raised in the ${service.engine.config.view} view; ids look like ${service.engine.config.view}|SOURCE|TARGET|PORT)`, 'edge');
    return { status: 200, body: b };
  }
  if (path === '/api/v1/silences') {
    if (isRead) return { status: 200, body: { silences: service.engine.silences.list(), active: service.engine.silences.active(nowMs).length } };
    if (method !== 'POST') throw new ApiError(405, `method: ${method} is not allowed on ${path}: use GET or POST`, 'method');
    const type = (req.headers['content-type'] ?? 'application/json').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/json') throw new ApiError(415, `content-type: '${type}' is not supported: send application/json`, 'content-type');
    const text = (await readBody(req, MAX_SILENCE_BODY)).toString('utf8');
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (err) {
      throw new ApiError(400, `body: is not JSON: ${(err as Error).message}`, 'body');
    }
    try {
      const s = service.engine.silences.create(body, nowMs);
      void service.save();
      return { status: 201, body: s };
    } catch (err) {
      if (err instanceof SilenceError) throw badRequest(err.field, err.message.slice(err.field.length + 2));
      throw err;
    }
  }
  const m = /^\/api\/v1\/silences\/([^/]+)$/.exec(path);
  if (m) {
    const id = decodeURIComponent(m[1]!);
    if (method === 'DELETE') {
      const s = service.engine.silences.expire(id, nowMs);
      if (!s) throw new ApiError(404, `id: no silence or mute '${id}' (list them with GET /api/v1/silences)`, 'id');
      void service.save();
      return { status: 200, body: s };
    }
    if (isRead) {
      const s = service.engine.silences.list().find((x) => x.id === id);
      if (!s) throw new ApiError(404, `id: no silence or mute '${id}' (list them with GET /api/v1/silences)`, 'id');
      return { status: 200, body: s };
    }
    throw new ApiError(405, `method: ${method} is not allowed on ${path}: use GET or DELETE`, 'method');
  }
  return undefined;
}
