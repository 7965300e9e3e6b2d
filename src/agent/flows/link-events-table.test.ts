import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LinkTable, type LinkState } from './link-events-table.js';

function table(): { t: LinkTable; log: string[] } {
  const log: string[] = [];
  const t = new LinkTable({
    up: (l: LinkState, prev: LinkState | undefined) => log.push(prev ? `rename ${l.ifindex} ${prev.name}->${l.name}` : `up ${l.ifindex} ${l.name}`),
    down: (l: LinkState) => log.push(`down ${l.ifindex} ${l.name}`),
  });
  return { t, log };
}

test('events: a link appears once, is renamed, goes', () => {
  const { t, log } = table();
  t.upsert(5, 'a', 1);
  t.upsert(5, 'a', 1); // flags changed: nothing to say
  t.upsert(5, 'b', 1);
  t.remove(5);
  t.remove(5);
  assert.deepEqual(log, ['up 5 a', 'rename 5 a->b', 'down 5 b']);
  assert.equal(t.size, 0);
});

test('a name back under a new index replaces the device whose deletion was missed', () => {
  const { t, log } = table();
  t.upsert(5, 'a', 1);
  t.upsert(9, 'a', 1);
  assert.deepEqual(log, ['up 5 a', 'down 5 a', 'up 9 a']);
  t.upsert(9, 'b', 1);
  t.upsert(10, 'a', 1); // 'a' is free again: nothing else goes
  assert.deepEqual(log.slice(3), ['rename 9 a->b', 'up 10 a']);
});

test('a complete listing sweeps the links it did not report', () => {
  const { t, log } = table();
  t.beginListing();
  t.upsert(1, 'lo', 772);
  t.upsert(2, 'x', 1);
  t.upsert(3, 'y', 1);
  t.endListing(true);
  t.beginListing();
  t.upsert(1, 'lo', 772);
  t.upsert(3, 'y', 1);
  t.endListing(true);
  assert.deepEqual(log.slice(3), ['down 2 x']);
});

test('an event while a listing runs counts as reported; an incomplete listing sweeps nothing', () => {
  const { t, log } = table();
  t.upsert(1, 'lo', 772);
  t.upsert(2, 'x', 1);
  t.beginListing();
  t.upsert(1, 'lo', 772);
  t.upsert(7, 'new', 1); // created after the dump passed its index: an event only
  t.endListing(true);
  assert.deepEqual(log.slice(2), ['up 7 new', 'down 2 x']);
  t.beginListing();
  t.endListing(false);
  assert.equal(t.size, 2);
});
