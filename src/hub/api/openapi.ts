// The API's OpenAPI 3.1 document, served at /api/openapi.json. Response schemas are checked
// against real answers by the tests; the ingest body's schema comes from the validator itself.
import { z } from 'zod';
import { DOMAINS } from '../graph/breakdown.js';
import { FILTER_KEYS } from '../graph/filter.js';
import { VIEW_KINDS } from '../graph/views.js';
import { bodySchema } from '../ingest/schema.js';
import { HISTORY_METRICS } from './queries.js';

type Schema = Record<string, unknown>;

const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
const num = { type: 'number' };
const nullableNum = { type: ['number', 'null'] };
const str = { type: 'string' };
const obj = (properties: Record<string, unknown>, required = Object.keys(properties)): Schema => ({ type: 'object', properties, required });

const SideView = obj({
  connections: num,
  active: num,
  failures: num,
  bytes_sent: num,
  bytes_received: num,
  retransmits: num,
  resets_sent: num,
  resets_received: num,
  rtt_p50_seconds: nullableNum,
  rtt_p99_seconds: nullableNum,
  requests: { ...num, description: "Requests this side's agent captured (present only when it saw any)" },
  request_errors: { ...num, description: 'Of them, HTTP 5xx and gRPC codes other than OK' },
}, ['connections', 'active', 'failures', 'bytes_sent', 'bytes_received', 'retransmits', 'resets_sent', 'resets_received', 'rtt_p50_seconds', 'rtt_p99_seconds']);

/** Said wherever request figures are documented: where they come from and what the Prometheus path lacks. */
const REQUESTS_NOTE =
  'Present only when an end of the edge captured requests (agents with --l7); from the side that saw more (both ends see the same requests). ' +
  'With --prometheus the hub computes the same figures from flowscope_http_requests_total (status classes), flowscope_grpc_requests_total (codes) and the two ' +
  'flowscope_*_request_duration_seconds histograms (quantiles from their buckets), with increase() over the window like every other count there.';

const schemas: Record<string, Schema> = {
  Error: obj({ error: { ...str, description: 'What was wrong and how to fix it' }, field: { ...str, description: 'The parameter or body field at fault' } }, ['error']),
  GraphNode: obj({
    id: { ...str, description: 'Unique in its view: KIND:NAME, e.g. workload:shop/checkout, process:node-a/nginx, external:example.com' },
    kind: { ...str, description: "What the node is: the view's kind, a finer one when the endpoint lacks the view's field, or external" },
    name: str,
    labels: { type: 'object', additionalProperties: str, description: 'Identity labels; node and zone where the view is finer than a node; values joined by "," where members differ' },
  }),
  SideView,
  GraphEdge: obj(
    {
    id: { ...str, description: 'VIEW|SOURCE|TARGET|PORT' },
    source: { ...str, description: 'The client end (a node id)' },
    target: { ...str, description: 'The server end (a node id)' },
    port: { type: 'integer' },
    protocol: str,
    connections: { ...num, description: "Connections opened in the window (the client's count when the client reported, else the server's)" },
    active: { ...num, description: 'Open at the end of the window' },
    failures: { type: 'object', additionalProperties: num, description: 'Failed connects by reason (refused, timeout, unreachable, reset, other)' },
    bytes_sent: { ...num, description: 'Sent by the client' },
    bytes_received: { ...num, description: 'Received by the client' },
    retransmits: { ...num, description: "Both sides' retransmitted segments" },
    resets: num,
    rtt_p50_seconds: nullableNum,
    rtt_p99_seconds: nullableNum,
    connect_p50_seconds: nullableNum,
    connect_p99_seconds: nullableNum,
    requests: { ...num, description: `Requests (HTTP, gRPC) on the edge's connections. ${REQUESTS_NOTE}` },
    request_errors: { ...num, description: 'Requests that failed on the server: HTTP 5xx and gRPC codes other than OK' },
    requests_by_status: {
      type: 'object',
      additionalProperties: num,
      description: 'Requests by status: HTTP classes 1xx-5xx, "none" (cut short without a status), gRPC codes as "grpc:CODE" ("grpc:OK", "grpc:UNAVAILABLE"), "other" (a code the hub does not know)',
    },
    request_p50_seconds: { ...nullableNum, description: 'Request duration (request head to end of response), median' },
    request_p99_seconds: nullableNum,
    sides: { type: 'array', items: { enum: ['client', 'server'] }, description: 'Which agents reported the edge: both when the client and the server were joined' },
    client: { oneOf: [ref('SideView'), { type: 'null' }], description: "The client's own view (graph and neighbourhood: with sides=true)" },
    server: { oneOf: [ref('SideView'), { type: 'null' }], description: "The server's own view (graph and neighbourhood: with sides=true)" },
    },
    ['id', 'source', 'target', 'port', 'protocol', 'connections', 'active', 'failures', 'bytes_sent', 'bytes_received', 'retransmits', 'resets', 'rtt_p50_seconds', 'rtt_p99_seconds', 'connect_p50_seconds', 'connect_p99_seconds', 'sides'],
  ),
  Graph: obj({ view: str, from: str, to: str, nodes: { type: 'array', items: ref('GraphNode') }, edges: { type: 'array', items: ref('GraphEdge') } }),
  Neighbourhood: {
    allOf: [ref('Graph'), obj({ node: str, hops: { type: 'integer' }, distance: { type: 'object', additionalProperties: { type: 'integer' } } })],
  },
  SearchResult: obj({
    query: str,
    results: {
      type: 'array',
      items: obj({
        id: str,
        kind: str,
        name: str,
        view: { ...str, description: 'The view in which id is a node' },
        labels: { type: 'object', additionalProperties: str },
        match: obj({ field: { enum: ['name', 'address', 'label'] }, value: str }),
        score: num,
      }),
    },
  }),
  Breakdown: obj({
    from: str,
    to: str,
    by: { enum: [...DOMAINS] },
    edge: ref('GraphEdge'),
    total: obj(
      { connections: num, failures: num, resets: num, slow: num, slow_rtt_seconds: nullableNum, slow_connect_seconds: nullableNum, request_errors: { ...num, description: 'Failed requests (present when the edge carried requests)' } },
      ['connections', 'failures', 'resets', 'slow', 'slow_rtt_seconds', 'slow_connect_seconds'],
    ),
    parts: {
      type: 'array',
      description: 'Ranked: parts holding more of the problem first; a part with all the traffic last',
      items: obj({
        side: { enum: ['client', 'server'] },
        value: str,
        connections: num,
        traffic_share: num,
        failures: { type: 'object', additionalProperties: num },
        failure_count: num,
        failure_share: num,
        resets: num,
        slow: num,
        slow_share: num,
        problem_share: { ...num, description: 'Failures, resets, slow observations and failed requests of this part over those of the edge' },
        request_errors: { ...num, description: 'Failed requests: HTTP 5xx, gRPC not OK (present when the edge carried requests)' },
        request_error_share: num,
        rtt_p99_seconds: nullableNum,
        connect_p99_seconds: nullableNum,
      }, ['side', 'value', 'connections', 'traffic_share', 'failures', 'failure_count', 'failure_share', 'resets', 'slow', 'slow_share', 'problem_share', 'rtt_p99_seconds', 'connect_p99_seconds']),
    },
  }),
  Diff: obj({
    view: str,
    from: str,
    to: str,
    baseline_from: str,
    baseline_to: str,
    appeared: { type: 'array', items: ref('GraphEdge') },
    vanished: { type: 'array', items: ref('GraphEdge') },
    changed: {
      type: 'array',
      items: obj({ edge: ref('GraphEdge'), baseline: ref('GraphEdge'), score: num, changes: { type: 'object', additionalProperties: obj({ before: nullableNum, after: nullableNum }) } }),
    },
    nodes: { type: 'array', items: ref('GraphNode') },
  }),
  History: obj({
    from: str,
    to: str,
    step_seconds: num,
    times: { type: 'array', items: { type: 'integer' }, description: "Each step's end, Unix seconds" },
    series: { type: 'object', additionalProperties: { type: 'array', items: nullableNum } },
  }),
  IngestResult: obj({ applied: { type: 'integer' }, duplicates: { type: 'integer' } }),
  UnknownRuns: obj({ error: str, unknown_runs: { type: 'array', items: obj({ agent: str, start: str }) } }),
  Status: obj({
    store: str,
    retention_seconds: num,
    agents: {
      type: 'array',
      items: obj({
        agent: str,
        node: str,
        zone: str,
        start: str,
        version: str,
        interval_ms: num,
        last_heard: str,
        last_interval_end: str,
        reporting: { type: 'boolean' },
        batches: num,
        batches_dropped: num,
      }),
    },
    edges: { type: 'integer' },
    endpoints: { type: 'integer' },
    pending_batches: { type: 'integer' },
    joined_to: { ...str, description: 'Everything up to this time is joined and written: queries up to it are final' },
  }),
};

const timeParam = (name: string, description: string) => ({ name, in: 'query', required: false, description, schema: { type: 'string' } });
const windowParams = [
  timeParam('from', 'Start: RFC 3339, now, or relative like -15m (default: to minus 5 minutes)'),
  timeParam('to', 'End: RFC 3339, now, or relative (default: now)'),
];
const viewParam = { name: 'view', in: 'query', required: false, description: `${VIEW_KINDS.join(', ')} or label:KEY (default workload)`, schema: { type: 'string' } };
const filterParam = {
  name: 'filter',
  in: 'query',
  required: false,
  description: `Comma-separated KEY=VALUE or KEY!=VALUE; keys: ${FILTER_KEYS.join(', ')}. An edge is kept when port/protocol terms hold and one end satisfies every other term`,
  schema: { type: 'string' },
};
const sidesParam = {
  name: 'sides',
  in: 'query',
  required: false,
  description: "true: each edge also carries its client's and its server's own view (client, server); default false (the map needs the edge's totals; a panel asks for one edge's sides)",
  schema: { type: 'boolean' },
};
const json = (schema: string, description = 'OK') => ({ description, content: { 'application/json': { schema: ref(schema) } } });
const errors = { '400': json('Error', 'A parameter is wrong: the message names it'), '401': json('Error', 'A token is configured and the request has none, or a wrong one') };

const get = (summary: string, parameters: unknown[], schema: string) => ({ get: { summary, parameters, responses: { '200': json(schema), ...errors } } });

export function openApiDocument(version: string): Schema {
  return {
    openapi: '3.1.0',
    info: { title: 'flowscope hub', version, description: 'The live service map of a cluster: graph, neighbourhoods, search, failure domains, diffs, history and a stream of changes; and the agents\' ingest.' },
    components: { schemas: { ...schemas, IngestBody: z.toJSONSchema(bodySchema, { io: 'input', unrepresentable: 'any' }) as Schema }, securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    security: [{ bearer: [] }],
    paths: {
      '/api/v1/graph': get('The service map over a window, in one view', [viewParam, ...windowParams, filterParam, sidesParam], 'Graph'),
      '/api/v1/neighbourhood': get(
        'Every node within N hops of a node (edges followed either way) and the edges among them',
        [{ name: 'node', in: 'query', required: true, schema: { type: 'string' } }, { name: 'hops', in: 'query', required: false, description: '0-10, default 1', schema: { type: 'integer' } }, { ...viewParam, description: "Default: the node id's kind" }, ...windowParams, filterParam, sidesParam],
        'Neighbourhood',
      ),
      '/api/v1/search': get('Nodes of every view by name, label value or address, best first', [{ name: 'q', in: 'query', required: true, schema: { type: 'string' } }, { name: 'limit', in: 'query', required: false, schema: { type: 'integer' } }], 'SearchResult'),
      '/api/v1/breakdown': get(
        "An edge's failures and latency split by one domain on each end, ranked by how much of the problem each part holds",
        [{ name: 'edge', in: 'query', required: true, schema: { type: 'string' } }, { name: 'by', in: 'query', required: true, schema: { enum: [...DOMAINS] } }, ...windowParams],
        'Breakdown',
      ),
      '/api/v1/diff': get(
        'Edges that appeared, vanished or changed most between a baseline window and a window',
        [...windowParams, timeParam('baseline_from', 'Start of the baseline (required)'), timeParam('baseline_to', 'End of the baseline (default: as long as the window)'), viewParam, filterParam, { name: 'limit', in: 'query', required: false, schema: { type: 'integer' } }],
        'Diff',
      ),
      '/api/v1/history': get(
        'Time series of an edge or a node',
        [
          { name: 'edge', in: 'query', required: false, description: 'An edge id (or give node)', schema: { type: 'string' } },
          { name: 'node', in: 'query', required: false, description: 'A node id (or give edge); all edges with it at either end', schema: { type: 'string' } },
          { ...viewParam, description: "For node: default the node id's kind" },
          { name: 'metric', in: 'query', required: false, description: `Comma-separated: ${HISTORY_METRICS.join(', ')} (default connections)`, schema: { type: 'string' } },
          { name: 'step', in: 'query', required: false, description: 'e.g. 15s, 1m (default: the window / 120, at least 1s)', schema: { type: 'string' } },
          ...windowParams,
        ],
        'History',
      ),
      '/api/v1/stream': {
        get: {
          summary:
            'Server-sent events: `hello` on connect, then one `interval` event per second with the edges that carried traffic since the previous one (a Graph with their counts for that time, and a sequence number). Read it with fetch when a token is configured (EventSource sends no Authorization header).',
          parameters: [viewParam, filterParam],
          responses: { '200': { description: 'text/event-stream', content: { 'text/event-stream': { schema: ref('Graph') } } }, ...errors },
        },
      },
      '/api/v1/status': get('The agents reporting, what the store holds', [], 'Status'),
      '/api/v1/ingest': {
        post: {
          summary:
            "Agents' wire v1 messages (hello, batch), one or an array, JSON, Content-Encoding gzip or deflate or none. Each batch is applied once per (agent, start, seq): a resend changes nothing.",
          requestBody: { required: true, content: { 'application/json': { schema: ref('IngestBody') } } },
          responses: {
            '200': json('IngestResult', 'Applied (or already applied)'),
            '400': json('Error', 'Malformed: nothing was applied; the message names the field'),
            '401': errors['401'],
            '409': json('UnknownRuns', 'Batches of runs the hub does not know: send their hello, then the batches again (the others were applied)'),
            '413': json('Error', 'The body (or its decompressed form) is too large: nothing was applied'),
          },
        },
      },
      '/metrics': { get: { summary: "The hub's own metrics (Prometheus text format)", responses: { '200': { description: 'text/plain exposition' }, '401': errors['401'] } } },
      '/healthz': { get: { summary: 'Liveness', security: [], responses: { '200': { description: 'ok' } } } },
    },
  };
}
