// The wire v1 messages as zod schemas: what the hub accepts from agents. Unknown fields are
// ignored (additions stay v1); anything else that does not match is refused with the field named.
import { z } from 'zod';
import { CONNECT_BUCKETS, DURATION_BUCKETS, DNS_BUCKETS, RTT_BUCKETS } from '../../model/distribution.js';
import { FAIL_REASONS } from '../../model/edge.js';
import { REQUEST_BUCKETS } from '../../model/requests.js';
import type { wire } from '../../model/index.js';

/** Limits that keep one message's cost bounded (the body size limit comes first). */
export const LIMITS = {
  name: 1024,
  /** Records of one kind in one batch. */
  records: 1_000_000,
  localAddrs: 64,
  actualPeers: 64,
  labels: 64,
  /** Status classes and gRPC codes of one edge's requests. */
  statuses: 32,
} as const;

const count = z.number().finite().nonnegative();
const name = z.string().max(LIMITS.name);
const port = z.number().int().min(0).max(65535);
const time = z.iso.datetime({ offset: true });
/** Records the hub keeps as they came (per-connection and per-flow detail, capabilities). */
// A record in the schema (so that the JSON Schema the fast check compiles says "object" too), typed
// as the wire's record types, which are objects without an index signature.
const anObject = z.record(z.string(), z.unknown(), { error: 'must be a JSON object' }) as unknown as z.ZodType<object>;

export const workload = z.object({
  container: name.optional(),
  pod: name.optional(),
  namespace: name.optional(),
  workload: name.optional(),
  service: name.optional(),
  kind: name.optional(),
  workload_kind: name.optional(),
  image: name.optional(),
  version: name.optional(),
  node: name.optional(),
  zone: name.optional(),
  labels: z
    .record(name, name)
    .refine((r) => Object.keys(r).length <= LIMITS.labels, `at most ${LIMITS.labels} labels`)
    .optional(),
});

function histogram(layout: readonly number[], what: string) {
  return z
    .object({ counts: z.array(count).length(layout.length, `${what} has ${layout.length} buckets`), sum: count, count })
    .optional();
}

export const failures = z.partialRecord(z.enum(FAIL_REASONS), count).optional();

export const requests = z.object({
  count,
  errors: count,
  by_status: z.record(name, count).refine((r) => Object.keys(r).length <= LIMITS.statuses, `at most ${LIMITS.statuses} status keys`),
  duration: histogram(REQUEST_BUCKETS, 'requests.duration'),
});

const tcpEdge = z.object({
  role: z.enum(['client', 'server']),
  process: name,
  cgroup: name.optional(),
  peer: name,
  port,
  local: workload,
  remote: workload,
  local_addrs: z.array(name).max(LIMITS.localAddrs).optional(),
  actual_peers: z
    .array(z.object({ addr: name, port, connections: count }))
    .max(LIMITS.actualPeers)
    .optional(),
  opened: count,
  closed: count,
  active: count,
  failures,
  bytes_sent: count,
  bytes_received: count,
  retransmits: count,
  resets_sent: count,
  resets_received: count,
  connect: histogram(CONNECT_BUCKETS, 'connect'),
  rtt: histogram(RTT_BUCKETS, 'rtt'),
  duration: histogram(DURATION_BUCKETS, 'duration'),
  requests: requests.optional(),
});

const flowEdge = z.object({
  direction: z.enum(['ingress', 'egress']),
  protocol: name,
  interface: name,
  peer: name,
  port,
  peer_dns: name.optional(),
  packets: count,
  bytes: count,
});

const drop = z.object({
  reason: name,
  direction: z.enum(['received', 'sent']),
  protocol: name,
  peer: name,
  port,
  local: workload,
  remote: workload,
  packets: count,
});

const dns = z.object({
  qtype: name,
  server: name,
  client: workload,
  rcodes: z.record(name, count),
  duration: histogram(DNS_BUCKETS, 'duration'),
});

const run = z.object({ agent: name.min(1), node: name.min(1), start: time });

const losses = z.object({
  events: z.record(name, count),
  rolled_up: count,
  flows: z.record(name, count),
  batches_dropped: count,
});

export const helloSchema = z.object({
  v: z.literal(1),
  kind: z.literal('hello'),
  run,
  zone: name,
  version: name,
  interval_ms: z.number().int().min(10).max(3_600_000),
  // What a node can do is shown, never computed on: kept as the agent sent it.
  capabilities: anObject,
});

export const batchSchema = z
  .object({
    v: z.literal(1),
    kind: z.literal('batch'),
    run,
    seq: z.number().int().min(1),
    from: time,
    to: time,
    // Absent when the records come as columns (checked by checkTcpColumns: see columns-check.ts).
    tcp: z.array(tcpEdge).max(LIMITS.records).optional(),
    tcp_columns: anObject.describe('TCP records as columns (wire v1 addition): see tcp_columns in the hub README and src/model/wire/columns.ts').optional(),
    flows: z.array(flowEdge).max(LIMITS.records),
    drops: z.array(drop).max(LIMITS.records),
    dns: z.array(dns).max(LIMITS.records),
    losses,
    connections: z.array(anObject).max(LIMITS.records).optional(),
    flow_records: z.array(anObject).max(LIMITS.records).optional(),
  })
  .refine((b) => Date.parse(b.from) <= Date.parse(b.to), { message: 'from must not be after to', path: ['from'] })
  .refine((b) => b.tcp !== undefined || b.tcp_columns !== undefined, { message: 'required (the records, or tcp_columns)', path: ['tcp'] });

/** One message, or several in order (an agent catching up sends its backlog this way). */
export const bodySchema = z.union([z.discriminatedUnion('kind', [helloSchema, batchSchema]), z.array(z.discriminatedUnion('kind', [helloSchema, batchSchema])).max(10_000)]);

export type HelloIn = z.infer<typeof helloSchema>;
export type BatchIn = z.infer<typeof batchSchema>;

// The schemas must accept what the model's wire types describe (checked at compile time).
type Accepts<Schema, Wire> = Wire extends Schema ? true : never;
export const wireMatches: [Accepts<z.input<typeof batchSchema>, wire.BatchV1>, Accepts<z.input<typeof helloSchema>, wire.HelloV1>] = [true, true];

/** The first problem of a failed parse as one line naming the field: `tcp[3].port: Too big: ...`. */
export function describeIssues(error: z.ZodError): { field: string; message: string } {
  const issue = deepest(error.issues);
  const field = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '') || '(body)';
  return { field, message: `${field}: ${issue.message}` };
}

type Issue = z.core.$ZodIssue;

/** Union errors nest the real problem; report the one deepest in the message. */
function deepest(issues: readonly Issue[]): Issue {
  let best = issues[0]!;
  for (const issue of issues) {
    if (issue.code === 'invalid_union') {
      for (const branch of issue.errors) {
        if (branch.length === 0) continue;
        const inner = deepest(branch);
        const full = { ...inner, path: [...issue.path, ...inner.path] } as Issue;
        if (full.path.length > best.path.length || best.code === 'invalid_union') best = full;
      }
    } else if (issue.path.length > best.path.length) best = issue;
  }
  return best;
}
