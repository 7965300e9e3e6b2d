import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EdgeTable, type EdgeBase, type EdgeKind } from './table.js';

interface Id {
  peer: string;
  port: number;
}
interface E extends EdgeBase<Id> {
  n: number;
  open: number;
}
const kind: EdgeKind<Id, E> = {
  keyOf: (i) => `${i.peer}|${i.port}`,
  create: (identity, nowMs) => ({ identity, lastActivityMs: nowMs, n: 0, open: 0 }),
  rollup: (i, level) => ({ peer: 'other', port: level === 2 ? 0 : i.port }),
  isRollup: (i) => i.peer === 'other',
  pinned: (e) => e.open > 0,
};

test('the same identity is the same edge; counters only grow there', () => {
  const t = new EdgeTable(kind, { maxSeries: 10 });
  t.get({ peer: 'a', port: 1 }).n++;
  t.get({ peer: 'a', port: 1 }).n++;
  assert.equal(t.size, 1);
  assert.equal(t.get({ peer: 'a', port: 1 }).n, 2);
});

test('past the cap new peers roll into peer "other" per port, then past twice the cap into port 0; each roll-up counted', () => {
  const t = new EdgeTable(kind, { maxSeries: 2 });
  t.get({ peer: 'a', port: 1 });
  t.get({ peer: 'b', port: 1 });
  const r1 = t.get({ peer: 'c', port: 80 });
  assert.deepEqual(r1.identity, { peer: 'other', port: 80 });
  t.get({ peer: 'd', port: 443 }); // size 4 = 2 x cap after this one
  assert.equal(t.size, 4);
  const r2 = t.get({ peer: 'e', port: 8080 });
  assert.deepEqual(r2.identity, { peer: 'other', port: 0 });
  assert.equal(t.rolledUp, 3);
  // Own edges already there still count as their own.
  assert.deepEqual(t.get({ peer: 'a', port: 1 }).identity, { peer: 'a', port: 1 });
  assert.equal(t.rolledUp, 3);
});

test('an identity that is a roll-up already is its own edge and not counted as rolled up', () => {
  const t = new EdgeTable(kind, { maxSeries: 1 });
  t.get({ peer: 'other', port: 0 }).n += 5;
  t.get({ peer: 'a', port: 1 });
  assert.equal(t.rolledUp, 0);
  assert.equal(t.size, 2);
});

test('idle edges are forgotten unless pinned, and free their place under the cap', () => {
  const t = new EdgeTable(kind, { maxSeries: 2 });
  t.get({ peer: 'a', port: 1 }, 0);
  t.get({ peer: 'b', port: 1 }, 0).open = 1;
  t.get({ peer: 'c', port: 1 }, 500); // rolled up
  assert.equal(t.evictIdle(1000, 1200), 1, 'only a: b has an open connection, the roll-up was active at 500');
  assert.deepEqual([...t.values()].map((e) => e.identity.peer).sort(), ['b', 'other']);
  assert.deepEqual(t.get({ peer: 'd', port: 1 }, 1300).identity, { peer: 'd', port: 1 }, 'a freed its place');
});
