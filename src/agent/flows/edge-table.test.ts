import { test } from 'node:test';
import assert from 'node:assert/strict';
import { edgeTableSlots, MAX_EDGE_TABLE_SLOTS } from './edge-table.js';

test('the edge table has a power of two of slots at or above twice --max-flows, capped at 2^20', () => {
  assert.equal(edgeTableSlots(1), 2);
  assert.equal(edgeTableSlots(1024), 2048);
  // The default: 65,536 edges fill at most half of the table, so probe windows stay short.
  assert.equal(edgeTableSlots(65_536), 131_072);
  assert.equal(edgeTableSlots(65_537), 262_144);
  assert.equal(edgeTableSlots(524_288), MAX_EDGE_TABLE_SLOTS);
  assert.equal(edgeTableSlots(1_048_576), MAX_EDGE_TABLE_SLOTS);
  // The largest --max-flows (16,777,216) would be 1 GiB of slots: the edge map behind takes the rest.
  assert.equal(edgeTableSlots(16_777_216), MAX_EDGE_TABLE_SLOTS);
  assert.equal(MAX_EDGE_TABLE_SLOTS * 64, 64 * 1024 * 1024);
});
