import { test } from 'node:test';
import assert from 'node:assert/strict';
import { baselineOf, DEFAULT_STATE, formatState, parseState, windowOf, type UiState } from './url-state.js';

test('a state written to the URL reads back the same', () => {
  const s: UiState = {
    ...DEFAULT_STATE,
    view: 'label:app',
    tab: 'table',
    range: 'custom',
    from: '2026-01-02T10:00:00.000Z',
    to: '2026-01-02T11:00:00.000Z',
    filter: 'namespace=shop,label.tier=web',
    mutes: ['port=9090', 'source=kube*,namespace=monitoring'],
    failuresOnly: true,
    groups: ['zone', 'namespace'],
    expanded: ['group:zone=a/namespace=shop%2Fx'],
    collapsed: ['group:zone=b'],
    budget: 300,
    selected: 'workload:shop/checkout',
    neighbourhood: 'workload:shop/checkout',
    hops: 3,
    compare: 'custom',
    baselineFrom: '2026-01-01T10:00:00.000Z',
    baselineTo: '2026-01-01T11:00:00.000Z',
    zoom: 1.25,
    panX: -120.5,
    panY: 40,
    sort: 'failures',
    desc: false,
    query: 'pay',
  };
  assert.deepEqual(parseState(formatState(s)), s);
});

test('defaults make an empty query, and an empty query gives the defaults', () => {
  assert.equal(formatState(DEFAULT_STATE), '');
  assert.deepEqual(parseState(''), DEFAULT_STATE);
});

test('malformed parameters fall back to defaults instead of breaking the page', () => {
  const s = parseState('?view=%3Cscript%3E&range=custom&from=yesterday&budget=-5&hops=99&z=abc&px=1&py=2&cmp=3h&group=zone,<b>,namespace');
  assert.equal(s.view, 'workload');
  assert.equal(s.range, 'live', 'a custom range without valid times is live');
  assert.equal(s.budget, DEFAULT_STATE.budget);
  assert.equal(s.hops, 1);
  assert.equal(s.zoom, null, 'a viewport is all or nothing');
  assert.equal(s.compare, null);
  assert.deepEqual(s.groups, ['zone', 'namespace']);
});

test('windows: live is the last 5 minutes; compare shifts the window back', () => {
  const now = Date.parse('2026-01-02T12:00:00Z');
  const s = parseState('?range=1h&cmp=24h');
  const w = windowOf(s, now);
  assert.deepEqual(w, { from: now - 3_600_000, to: now });
  assert.deepEqual(baselineOf(s, w), { from: now - 25 * 3_600_000, to: now - 24 * 3_600_000 });
  assert.deepEqual(windowOf(parseState(''), now), { from: now - 300_000, to: now });
  assert.equal(baselineOf(parseState(''), w), null);
});
