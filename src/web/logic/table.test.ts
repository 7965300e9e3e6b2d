import { test } from 'node:test';
import assert from 'node:assert/strict';
import { edgeRow, filterRows, sortRows } from './table.js';
import { edgeHealth } from './health.js';
import { edge, node } from './test-graphs.js';

const nodes = new Map([node('workload:s/alpha'), node('workload:s/beta'), { ...node('workload:s/<b>gamma</b>'), name: '<b>gamma</b>' }].map((n) => [n.id, n]));
const edges = [edge('workload:s/alpha', 'workload:s/beta', 80, { connections: 5 }), edge('workload:s/beta', 'workload:s/<b>gamma</b>', 5432, { connections: 50, failures: { refused: 9 } }), edge('workload:s/alpha', 'workload:s/<b>gamma</b>', 443, { connections: 20 })];
const rows = edges.map((e) => edgeRow(e, nodes, edgeHealth(e)));

test('rows carry names, counts and health; sorting by any column, ties by id', () => {
  assert.equal(rows[1]!.target, '<b>gamma</b>', 'names are data, kept as they are');
  assert.equal(rows[1]!.health, 'failing');
  assert.deepEqual(sortRows(rows, 'connections', true).map((r) => r.connections), [50, 20, 5]);
  assert.deepEqual(sortRows(rows, 'port', false).map((r) => r.port), [80, 443, 5432]);
  assert.deepEqual(sortRows(rows, 'health', true).map((r) => r.health), ['failing', 'ok', 'ok']);
  assert.deepEqual(sortRows(rows, 'source', false).map((r) => r.source), ['alpha', 'alpha', 'beta']);
});

test('filtering keeps rows with every word somewhere in them', () => {
  assert.deepEqual(filterRows(rows, 'gamma').map((r) => r.port), [5432, 443]);
  assert.deepEqual(filterRows(rows, 'gamma refused').map((r) => r.port), [5432]);
  assert.equal(filterRows(rows, '').length, 3);
  assert.equal(filterRows(rows, 'nothing-like-this').length, 0);
});

test('a row names the firing alerts on its edge, and the filter finds them', () => {
  const marked = edge('workload:s/alpha', 'workload:s/beta', 9000, { alerts: [{ id: 'a', name: 'FlowscopeNewDependency', severity: 'warning', state: 'firing', since: '2026-12-07T10:00:00Z' }, { id: 'b', name: 'FlowscopeRttAnomaly', severity: 'warning', state: 'resolved', since: '2026-12-07T09:00:00Z' }] });
  const row = edgeRow(marked, nodes, edgeHealth(marked));
  assert.equal(row.alerts, 'FlowscopeNewDependency (warning, since 2026-12-07 10:00:00Z)');
  assert.equal(row.health, 'degraded');
  assert.deepEqual(filterRows([...rows, row], 'newdependency').map((r) => r.port), [9000]);
  assert.equal(rows[0]!.alerts, '');
});
