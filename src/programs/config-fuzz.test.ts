// Fuzzing program configurations (fast-check): YAML text and BpfProgram resource specs of any shape
// are read or refused with a ConfigError, never another exception; each problem says where it is
// (file:line:column for YAML, the field for resources); a valid spec with one field spoiled is refused
// naming that field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { ConfigError, configFromValue, parseConfigText } from './config.js';
import { fieldName } from '../lib/yaml-position.js';

/** Refused only with a ConfigError that names its source and lists problems that each say where. */
function readOrRefuse(read: () => unknown, source: string, where: RegExp): void {
  try {
    read();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw new Error(`not a ConfigError: ${(err as Error).stack}`);
    assert.ok(err.message.startsWith(source), err.message);
    assert.ok(err.problems.length > 0, 'a refusal lists its problems');
    for (const p of err.problems) assert.match(p, where, `problem without a place: ${p}`);
  }
}

const VALID = {
  name: 'writes',
  object: '/opt/writes.bpf.o',
  metrics: {
    counters: [{ name: 'writes_total', help: 'writes', map: 'write_calls', labels: [{ name: 'pid', size: 4, decoders: [{ name: 'uint' }] }] }],
    histograms: [{ name: 'lat_seconds', help: 'x', bucket_type: 'exp2', bucket_max: 26, labels: [{ name: 'bucket', size: 8 }] }],
  },
  programs: [{ name: 'count_writes', attach: { tracepoint: 'syscalls/sys_enter_write' } }],
  globals: { targ_pid: 1 },
};

test('any text as a YAML configuration: read, or a ConfigError whose problems name file:line:column', () => {
  const yamlish = fc.oneof(
    fc.string({ unit: 'grapheme', maxLength: 300 }),
    fc.string({ unit: fc.constantFrom('name:', 'metrics:', 'counters:', '- ', '  ', '\n', '{', '}', '[', ']', ':', '"', "'", '&a', '*a', '!!binary', '---', '#', 'x', '1', 'null', '~', '\t'), maxLength: 80 }),
    fc.jsonValue().map((v) => stringify(v)),
  );
  fc.assert(
    fc.property(yamlish, (text) => readOrRefuse(() => parseConfigText(text, 'fuzz.yaml', { baseDir: '/opt' }), 'fuzz.yaml', /^fuzz\.yaml:\d+:\d+: .|^the file holds no YAML document$/)),
    { numRuns: 5000 },
  );
});

test('any value as a resource spec: read, or a ConfigError whose problems name the field', () => {
  fc.assert(
    fc.property(fc.oneof(fc.anything(), fc.jsonValue(), fc.dictionary(fc.constantFrom(...Object.keys(VALID), 'object_base64', 'sha256', 'metric_prefix', 'max_entries', 'code'), fc.jsonValue())), (spec) => {
      readOrRefuse(() => configFromValue(spec, 'BpfProgram/fuzz'), 'BpfProgram/fuzz', /^.+?: \S|^a program configuration is a mapping/);
    }),
    { numRuns: 5000 },
  );
});

/** Every leaf path of the valid spec. */
function leaves(v: unknown, path: Array<string | number> = []): Array<Array<string | number>> {
  if (v === null || typeof v !== 'object') return [path];
  return Object.entries(v).flatMap(([k, x]) => leaves(x, [...path, Array.isArray(v) ? Number(k) : k]));
}

function setIn(v: unknown, path: Array<string | number>, value: unknown): unknown {
  const copy = structuredClone(v) as Record<string | number, unknown>;
  let at = copy;
  for (const p of path.slice(0, -1)) at = at[p] as Record<string | number, unknown>;
  at[path[path.length - 1]!] = value;
  return copy;
}

test('a valid spec with one field spoiled (wrong type or value) is refused naming that field, or still read', () => {
  assert.equal(configFromValue(VALID, 'BpfProgram/valid').name, 'writes');
  const paths = leaves(VALID);
  const spoiled = fc.oneof(fc.constant(null), fc.constant(-1), fc.constant(''), fc.constant('not an identifier!'), fc.array(fc.nat(), { maxLength: 2 }), fc.dictionary(fc.string(), fc.nat(), { maxKeys: 2 }), fc.boolean(), fc.double());
  fc.assert(
    fc.property(fc.constantFrom(...paths), spoiled, (path, value) => {
      try {
        configFromValue(setIn(VALID, path, value), 'BpfProgram/spoiled');
      } catch (err) {
        assert.ok(err instanceof ConfigError, String(err));
        // The field, or the object holding it (a missing required field, an unknown decoder...).
        const names = path.map((_, i) => fieldName(path.slice(0, path.length - i)));
        assert.ok(err.problems.some((p) => names.some((n) => p.includes(n)) || p.includes('(top level)')), `${fieldName(path)} = ${JSON.stringify(value)}: ${err.problems.join(' | ')}`);
      }
    }),
    { numRuns: 3000 },
  );
});
