// Fuzzing the hub's ingest (fast-check): any body is either accepted as valid v1 messages (the zod
// schema, the source of truth, agrees with the fast ajv check that let it through) or refused with a
// 400 naming the field at fault; nothing else is ever thrown. Bodies are arbitrary text, arbitrary
// JSON, and the golden batch (records and columns) and hello with one field replaced by an arbitrary
// value or removed. A batch with columns that is accepted must read back as records the schema
// accepts too (the column check is no weaker than the records' schema).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { ApiError } from './params.js';
import { parseMessages } from './ingest-http.js';
import { bodySchema } from '../ingest/schema.js';
import { recordBatch, type ColumnarBatchV1 } from '../../model/wire/columns.js';

// dist/src/hub/api/ -> src/model/wire/golden/
const golden = (name: string): unknown => JSON.parse(readFileSync(new URL(`../../../../src/model/wire/golden/${name}`, import.meta.url), 'utf8'));
const BATCH = golden('batch.json');
const HELLO = golden('hello.json');
const COLUMNS = golden('batch-columns.json');

type Path = Array<string | number>;

/** Every path to a value inside `v` (objects' keys and arrays' indexes). */
function paths(v: unknown, at: Path = []): Path[] {
  const out: Path[] = [at];
  if (Array.isArray(v)) v.forEach((x, i) => out.push(...paths(x, [...at, i])));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) out.push(...paths(x, [...at, k]));
  return out;
}

/** A deep copy of `v` with the value at `path` replaced (or removed when `replacement` is undefined). */
function mutate(v: unknown, path: Path, replacement: unknown): unknown {
  const copy = structuredClone(v) as Record<string | number, unknown>;
  if (path.length === 0) return replacement;
  let parent = copy as Record<string | number, unknown>;
  for (const p of path.slice(0, -1)) parent = parent[p] as Record<string | number, unknown>;
  const last = path[path.length - 1]!;
  if (replacement === undefined) {
    if (Array.isArray(parent)) parent.splice(Number(last), 1);
    else delete parent[last];
  } else parent[last] = replacement;
  return copy;
}

function judge(text: string): void {
  try {
    const messages = parseMessages(text);
    const check = bodySchema.safeParse(JSON.parse(text));
    assert.ok(check.success, `accepted by the fast check but not by the schema: ${text.slice(0, 300)}\n${check.error?.message.slice(0, 300)}`);
    for (const m of messages) {
      if (m.kind !== 'batch' || m.tcp_columns === undefined) continue;
      const records = bodySchema.safeParse(recordBatch(m as ColumnarBatchV1));
      assert.ok(records.success, `columns accepted, but not as records: ${text.slice(0, 300)}\n${records.error?.message.slice(0, 300)}`);
    }
  } catch (err) {
    if (!(err instanceof ApiError)) throw new Error(`not an ApiError: ${(err as Error).stack}\nbody: ${text.slice(0, 300)}`);
    assert.equal(err.status, 400, err.message);
    assert.ok(err.field && err.field.length > 0, `no field named: ${err.message}`);
    assert.ok(err.message.length > err.field.length, err.message);
  }
}

test('the golden messages are accepted as they are', () => {
  assert.equal(parseMessages(JSON.stringify([HELLO, BATCH, COLUMNS])).length, 3);
});

test('a batch with neither records nor columns is refused naming tcp', () => {
  const { tcp_columns: _, ...none } = COLUMNS as Record<string, unknown>;
  assert.throws(() => parseMessages(JSON.stringify(none)), (err: ApiError) => err.status === 400 && err.field === 'tcp');
  assert.throws(() => parseMessages(JSON.stringify([HELLO, none])), (err: ApiError) => err.status === 400 && err.field === '[1].tcp');
});

test('columns that do not fit their rows are refused naming the column', () => {
  const broken = (change: (c: Record<string, unknown[]>) => void): string => {
    const m = structuredClone(COLUMNS) as { tcp_columns: Record<string, unknown[]> };
    change(m.tcp_columns);
    return JSON.stringify(m);
  };
  const refuses = (body: string, field: string): void => {
    assert.throws(() => parseMessages(body), (err: ApiError) => {
      assert.equal(err.status, 400);
      assert.equal(err.field, field, err.message);
      return true;
    });
  };
  refuses(broken((c) => c.port!.pop()), 'tcp_columns.port');
  refuses(broken((c) => (c.port![1] = 70000)), 'tcp_columns.port[1]');
  refuses(broken((c) => (c.peer![2] = c.strings!.length)), 'tcp_columns.peer[2]');
  refuses(broken((c) => (c.remote![0] = -1)), 'tcp_columns.remote[0]');
  refuses(broken((c) => (c.opened![0] = -3)), 'tcp_columns.opened[0]');
  refuses(broken((c) => (c.bytes_sent![1] = '5')), 'tcp_columns.bytes_sent[1]');
  refuses(broken((c) => c.local_addrs!.pop()), 'tcp_columns.local_addrs');
  refuses(broken((c) => (c.strings![0] = 'x'.repeat(2000))), 'tcp_columns.strings[0]');
  refuses(broken((c) => ((c as unknown as { connect: { counts: number[] } }).connect.counts.length = 3)), 'tcp_columns.connect.counts');
  refuses(broken((c) => (c.failures![0] = [5, { refused: 1 }])), 'tcp_columns.failures[0][0]');
  refuses(broken((c) => (c.failures![0] = [0, { refused: -1 }])), 'tcp_columns.failures[0][1].refused');
  refuses(broken((c) => ((c.ends![0] as { pod: unknown }).pod = 7)), 'tcp_columns.ends[0].pod');
});

test('any text or JSON as an ingest body: valid v1 messages, or a 400 naming the field', () => {
  const body = fc.oneof(fc.string({ unit: 'grapheme', maxLength: 300 }), fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)));
  fc.assert(fc.property(body, judge), { numRuns: 3000 });
});

test('a golden message with one field replaced or removed: valid v1 messages, or a 400 naming the field', () => {
  const cases = [BATCH, HELLO, COLUMNS].map((message) => {
    const all = paths(message);
    return fc.record({
      path: fc.constantFrom(...all),
      replacement: fc.oneof(fc.constant(undefined), fc.jsonValue({ maxDepth: 2 }), fc.constantFrom(-1, 1e308, 65536, '', 'x'.repeat(2000), NaN, null, [], {})),
      wrap: fc.boolean(),
    }).map(({ path, replacement, wrap }) => {
      const m = mutate(message, path, replacement);
      return JSON.stringify(wrap ? [m] : m);
    });
  });
  fc.assert(fc.property(fc.oneof(...cases), judge), { numRuns: 8000 });
});
