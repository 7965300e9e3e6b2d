// Checks a batch's TCP columns (wire v1's tcp_columns) column by column: types, lengths, ranges
// and references, in loops over arrays of numbers rather than a schema walk per record. What it
// lets through can be read by TcpColumnRows without further checks; the first problem is named
// with its field (`tcp_columns.port[17]`). The per-batch dictionaries' ends and the rare [row,
// value] pairs are checked by the record form's schemas.
import { z } from 'zod';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { DENSE_COUNTERS, HISTOGRAM_BUCKETS, HISTOGRAM_FIELDS } from '../../model/wire/columns.js';
import { failures, LIMITS, requests, workload } from './schema.js';

export interface ColumnProblem {
  field: string;
  message: string;
}

class Refused extends Error {
  constructor(readonly field: string, why: string) {
    super(`${field}: ${why}`);
  }
}

// Ends are few per batch but checked by the same schema as a record's ends (ajv: fast).
const endCheck = new Ajv2020({ strict: false, validateFormats: false, allErrors: false, unicode: false, logger: false }).compile(z.toJSONSchema(workload, { io: 'input', unrepresentable: 'any' }));

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** An array of the JSON form, or a Float64Array of a frame's columns (wire/frames.ts). */
function array(c: Record<string, unknown>, key: string, at: string, length?: number): unknown[] {
  const v = c[key];
  if (!Array.isArray(v) && !(v instanceof Float64Array)) throw new Refused(`${at}.${key}`, 'must be an array');
  if (length !== undefined && v.length !== length) throw new Refused(`${at}.${key}`, `has ${v.length} entries, must have ${length} (one per row)`);
  return v as unknown[];
}

const isInteger = (x: unknown, min: number, max: number): boolean => typeof x === 'number' && Number.isInteger(x) && x >= min && x <= max;
const isCount = (x: unknown): boolean => typeof x === 'number' && x >= 0 && x !== Infinity;

/** Integers in [min, max]. */
function integers(v: unknown[], min: number, max: number, field: string): void {
  for (let i = 0; i < v.length; i++) if (!isInteger(v[i], min, max)) throw new Refused(`${field}[${i}]`, `must be an integer from ${min} to ${max}`);
}

/** Finite non-negative numbers (counters). */
function counts(v: unknown[], field: string): void {
  for (let i = 0; i < v.length; i++) if (!isCount(v[i])) throw new Refused(`${field}[${i}]`, 'must be a finite number >= 0');
}

/** [row, value] pairs with rows ascending and below `rows`. */
function pairs(c: Record<string, unknown>, key: string, at: string, rows: number, value: (v: unknown, field: string) => void): void {
  if (c[key] === undefined) return;
  const v = array(c, key, at);
  let last = -1;
  for (let i = 0; i < v.length; i++) {
    const p = v[i];
    const field = `${at}.${key}[${i}]`;
    if (!Array.isArray(p) || p.length !== 2) throw new Refused(field, 'must be a [row, value] pair');
    const row = p[0] as unknown;
    if (typeof row !== 'number' || !Number.isInteger(row) || row <= last || row >= rows) throw new Refused(`${field}[0]`, `must be a row number from ${last + 1} to ${rows - 1} (ascending)`);
    last = row;
    value(p[1], `${field}[1]`);
  }
}

function bySchema(schema: z.ZodType, v: unknown, field: string): void {
  const parsed = schema.safeParse(v);
  if (parsed.success) return;
  const issue = parsed.error.issues[0]!;
  const path = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('');
  throw new Refused(`${field}${path}`, issue.message);
}

function check(c: unknown, at: string): void {
  if (!isObject(c)) throw new Refused(at, 'must be a JSON object');
  const strings = array(c, 'strings', at);
  for (let i = 0; i < strings.length; i++) {
    const s = strings[i];
    if (typeof s !== 'string' || s.length > LIMITS.name) throw new Refused(`${at}.strings[${i}]`, `must be a string of at most ${LIMITS.name} characters`);
  }
  const ends = array(c, 'ends', at);
  for (let i = 0; i < ends.length; i++) {
    const e = ends[i];
    if (!endCheck(e)) bySchema(workload, e, `${at}.ends[${i}]`);
    const labels = (e as { labels?: object }).labels;
    if (labels && Object.keys(labels).length > LIMITS.labels) throw new Refused(`${at}.ends[${i}].labels`, `at most ${LIMITS.labels} labels`);
  }
  const role = array(c, 'role', at);
  const n = role.length;
  if (n > LIMITS.records) throw new Refused(`${at}.role`, `at most ${LIMITS.records} rows`);
  integers(role, 0, 1, `${at}.role`);
  const s = strings.length - 1;
  const e = ends.length - 1;
  integers(array(c, 'process', at, n), 0, s, `${at}.process`);
  integers(array(c, 'cgroup', at, n), -1, s, `${at}.cgroup`);
  integers(array(c, 'peer', at, n), 0, s, `${at}.peer`);
  integers(array(c, 'port', at, n), 0, 65535, `${at}.port`);
  integers(array(c, 'local', at, n), 0, e, `${at}.local`);
  integers(array(c, 'remote', at, n), 0, e, `${at}.remote`);
  const addrCount = array(c, 'local_addr_count', at, n) as number[];
  integers(addrCount, 0, LIMITS.localAddrs, `${at}.local_addr_count`);
  let total = 0;
  for (let i = 0; i < n; i++) total += addrCount[i]!;
  integers(array(c, 'local_addrs', at, total), 0, s, `${at}.local_addrs`);
  for (const k of DENSE_COUNTERS) counts(array(c, k, at, n), `${at}.${k}`);
  for (const k of HISTOGRAM_FIELDS) {
    const h = c[k];
    if (h === undefined) continue;
    const hat = `${at}.${k}`;
    if (!isObject(h)) throw new Refused(hat, 'must be a JSON object');
    const rows = array(h, 'rows', hat);
    let last = -1;
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i];
      if (typeof row !== 'number' || !Number.isInteger(row) || row <= last || row >= n) throw new Refused(`${hat}.rows[${i}]`, `must be a row number from ${last + 1} to ${n - 1} (ascending)`);
      last = row;
    }
    const buckets = HISTOGRAM_BUCKETS[k];
    const cells = array(h, 'counts', hat);
    if (cells.length !== rows.length * buckets) throw new Refused(`${hat}.counts`, `has ${cells.length} entries, must have ${rows.length * buckets} (${buckets} buckets per row)`);
    counts(cells, `${hat}.counts`);
    counts(array(h, 'sum', hat, rows.length), `${hat}.sum`);
    counts(array(h, 'count', hat, rows.length), `${hat}.count`);
  }
  pairs(c, 'failures', at, n, (v, field) => bySchema(failures.unwrap(), v, field));
  pairs(c, 'requests', at, n, (v, field) => bySchema(requests, v, field));
  pairs(c, 'actual_peers', at, n, (v, field) => {
    if (!Array.isArray(v) || v.length > LIMITS.actualPeers) throw new Refused(field, `must be an array of at most ${LIMITS.actualPeers} peers`);
    v.forEach((p: unknown, j) => {
      if (!isObject(p)) throw new Refused(`${field}[${j}]`, 'must be a JSON object');
      if (!isInteger(p.addr, 0, s)) throw new Refused(`${field}[${j}].addr`, `must be an integer from 0 to ${s} (an index in strings)`);
      if (!isInteger(p.port, 0, 65535)) throw new Refused(`${field}[${j}].port`, 'must be an integer from 0 to 65535');
      if (!isCount(p.connections)) throw new Refused(`${field}[${j}].connections`, 'must be a finite number >= 0');
    });
  });
}

/** The first problem of a batch's TCP columns (`at`: where they are in the body), or undefined when they can be read. */
export function checkTcpColumns(c: unknown, at: string): ColumnProblem | undefined {
  try {
    check(c, at);
    return undefined;
  } catch (err) {
    if (err instanceof Refused) return { field: err.field, message: err.message };
    throw err;
  }
}
