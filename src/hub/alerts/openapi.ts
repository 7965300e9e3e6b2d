// The alerting part of the OpenAPI document: alerts, silences, the edge baseline, and the marks
// alerts leave on graph edges. Added to the hub's document when alerting is on.
import { DOMAINS } from '../graph/breakdown.js';
import { SEVERITIES } from './config/types.js';
import { ALERT_FAMILIES, ALERT_STATES } from './api.js';
import { MATCH_OPS } from './silences.js';

type Schema = Record<string, unknown>;

const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
const str = { type: 'string' };
const num = { type: 'number' };
const nullableNum = { type: ['number', 'null'] };
const nullableStr = { type: ['string', 'null'] };
const strMap = { type: 'object', additionalProperties: str };
const obj = (properties: Record<string, unknown>, required = Object.keys(properties)): Schema => ({ type: 'object', properties, required });
const nullable = (s: Schema): Schema => ({ oneOf: [s, { type: 'null' }] });

const SIGNALS = ['failures', 'rtt', 'connect', 'retransmits', 'resets', 'servfail', 'timeout', 'nxdomain', 'new_dependency'];

const schemas: Record<string, Schema> = {
  AlertMark: obj({ id: str, name: str, severity: { enum: [...SEVERITIES] }, state: { enum: ['pending', 'firing', 'resolved'] }, since: str }),
  SignalReport: obj(
    {
      signal: { enum: SIGNALS },
      since: str,
      cleared: nullableStr,
      unit: { enum: ['seconds', 'ratio', 'burn_rate', 'none'] },
      now: { ...nullableNum, description: 'The value over the current window (null: too little traffic)' },
      baseline: nullable(obj({ median: num, mad: num, upper: num, points: { type: 'integer' } })),
      burn: {
        type: 'array',
        items: obj({ long_seconds: num, short_seconds: num, burn_rate_long: nullableNum, burn_rate_short: nullableNum, threshold: num, severity: { enum: [...SEVERITIES] } }),
      },
      text: { ...str, description: 'The numbers in a sentence' },
    },
    ['signal', 'since', 'cleared', 'unit', 'now', 'baseline', 'text'],
  ),
  Explanation: obj({
    sentence: { ...str, description: 'e.g. "93% of refused connections to payments:8080 come from checkout v2 on node-b, which sends 35% of the traffic"' },
    domain: { oneOf: [{ enum: [...DOMAINS] }, { type: 'null' }] },
    side: { oneOf: [{ enum: ['client', 'server'] }, { type: 'null' }] },
    value: nullableStr,
    problem_share: nullableNum,
    traffic_share: nullableNum,
    breakdown: nullable({ type: 'object', description: 'The hub\'s Breakdown by that domain, its parts ranked by the alert\'s signal (signal_share)' }),
    computed_at: str,
  }),
  Alert: obj({
    id: { ...str, description: 'Stable for one incident (a hash of its labels)' },
    name: str,
    family: { enum: [...ALERT_FAMILIES] },
    severity: { enum: [...SEVERITIES] },
    state: { enum: ['firing', 'resolved'] },
    labels: strMap,
    annotations: strMap,
    starts_at: str,
    ends_at: nullableStr,
    updated_at: str,
    edge: nullable(obj({ id: str, view: str, source: str, target: str, port: { type: 'integer' } })),
    dns: nullable(obj({ client: str, server: str })),
    signals: { type: 'array', items: ref('SignalReport') },
    explanation: nullable(ref('Explanation')),
    silenced_by: { type: 'array', items: str },
    url: { ...str, description: 'The UI view that shows it' },
  }),
  PendingAlert: obj({ state: { const: 'pending' }, family: { enum: ['edge', 'dns'] }, subject: str, signals: { type: 'array', items: obj({ signal: str, since: str }) }, url: str }),
  AlertList: obj({ alerts: { type: 'array', items: ref('Alert') }, pending: { type: 'array', items: ref('PendingAlert') } }),
  Silence: obj({
    id: str,
    kind: { enum: ['silence', 'mute'] },
    matchers: { type: 'array', items: obj({ name: str, op: { enum: [...MATCH_OPS] }, value: str }) },
    starts_at: str,
    ends_at: str,
    created_by: str,
    comment: str,
  }),
  SilenceList: obj({ silences: { type: 'array', items: ref('Silence') }, active: { type: 'integer' } }),
  SilenceRequest: {
    type: 'object',
    required: ['matchers'],
    properties: {
      kind: { enum: ['silence', 'mute'], description: 'silence: raised but not delivered; mute: not raised at all (default silence)' },
      matchers: { type: 'array', items: { oneOf: [obj({ name: str, op: { enum: [...MATCH_OPS] }, value: str }, ['name', 'value']), { type: 'string', description: 'NAME=VALUE, NAME!=VALUE, NAME=~REGEX, NAME!~REGEX' }] } },
      duration: { ...str, description: 'e.g. 2h (or ends_at)' },
      ends_at: { ...str, description: 'RFC 3339 (or duration); at most 90 days ahead' },
      created_by: str,
      comment: str,
    },
  },
  AlertsStatus: obj({
    receivers: { type: 'array', items: obj({ name: str, type: str, sent: num, failed: num, rate_limited: num, last_error: nullableStr, groups: num }) },
    edges: { type: 'integer' },
    dns: { type: 'integer' },
    learning_until: nullableStr,
    active: { type: 'integer' },
    notes: { type: 'array', items: str },
  }),
  EdgeBaseline: obj({
    edge: str,
    view: str,
    first_seen: str,
    learned: { type: 'boolean' },
    metrics: {
      type: 'object',
      additionalProperties: obj({ points: { type: 'array', items: num }, median: nullableNum, mad: nullableNum, upper: nullableNum, now: nullableNum, traffic: num }),
    },
    failures: ref('SignalReport'),
  }),
};

const json = (schema: string, description = 'OK') => ({ description, content: { 'application/json': { schema: ref(schema) } } });
const q = (name: string, description: string, required = false) => ({ name, in: 'query', required, description, schema: { type: 'string' } });

/** The hub's document with alerting in it. */
export function extendOpenApi(doc: Schema): Schema {
  const components = doc.components as { schemas: Record<string, Schema> };
  Object.assign(components.schemas, schemas);
  const edge = components.schemas.GraphEdge as { properties: Record<string, unknown> };
  edge.properties.alerts = { type: 'array', items: ref('AlertMark'), description: 'Alerts on this edge active during the window (absent when none)' };
  const err = (d: string) => json('Error', d);
  Object.assign(doc.paths as Record<string, unknown>, {
    '/api/v1/alerts': {
      get: {
        summary: 'Alerts: what is wrong on which edge (or DNS client), why (the failure domain), and the numbers now against the edge\'s normal',
        parameters: [
          q('state', `${ALERT_STATES.join(', ')} (default active: firing and pending)`),
          q('since', 'For resolved alerts: RFC 3339 or relative like -1h (default -24h)'),
          q('family', ALERT_FAMILIES.join(', ')),
          q('edge', 'Only the alerts of this edge (an id of the alerting view)'),
        ],
        responses: { '200': json('AlertList'), '400': err('A parameter is wrong'), '401': err('Token missing or wrong') },
      },
    },
    '/api/v1/alerts/status': { get: { summary: 'Receivers (sent, failed, rate-limited), what alerting watches, learning', responses: { '200': json('AlertsStatus'), '401': err('Token missing or wrong') } } },
    '/api/v1/alerts/baseline': {
      get: {
        summary: "An edge's history per metric (the points of its band), median, MAD, band and value now, and its error budget",
        parameters: [q('edge', 'An edge id of the alerting view', true)],
        responses: { '200': json('EdgeBaseline'), '400': err('edge missing'), '404': err('Not an edge alerting watches'), '401': err('Token missing or wrong') },
      },
    },
    '/api/v1/silences': {
      get: { summary: 'Silences and mutes, active and expired', responses: { '200': json('SilenceList'), '401': err('Token missing or wrong') } },
      post: {
        summary: 'A silence (matching alerts are raised but not delivered) or a mute (not raised at all), with an expiry',
        requestBody: { required: true, content: { 'application/json': { schema: ref('SilenceRequest') } } },
        responses: { '201': json('Silence', 'Created'), '400': err('The body is wrong: the message names the field'), '401': err('Token missing or wrong') },
      },
    },
    '/api/v1/silences/{id}': {
      get: { summary: 'One silence or mute', parameters: [{ name: 'id', in: 'path', required: true, schema: str }], responses: { '200': json('Silence'), '404': err('No such silence') } },
      delete: { summary: 'Expires a silence or mute now', parameters: [{ name: 'id', in: 'path', required: true, schema: str }], responses: { '200': json('Silence', 'Expired'), '404': err('No such silence') } },
    },
  });
  return doc;
}
