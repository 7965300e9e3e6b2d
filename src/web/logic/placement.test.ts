import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildHierarchy, visibleGraph, type VisibleGraph } from './grouping.js';
import { edgeHealth } from './health.js';
import { findFree, nodeSize, overlaps, place, rectOf, type LayoutRequest, type Positions } from './placement.js';
import { cluster, edge, node } from './test-graphs.js';
import type { Graph } from './api-types.js';

/** A stand-in for ELK: nodes in a grid in id order (what matters here is what place() does with it). */
async function gridLayout(req: LayoutRequest): Promise<Positions> {
  const out: Positions = new Map();
  [...req.nodes].sort((a, b) => a.id.localeCompare(b.id)).forEach((n, i) => out.set(n.id, { x: (i % 5) * 300, y: Math.floor(i / 5) * 100 }));
  return out;
}

function vis(g: Graph, o: { levels?: string[]; collapsed?: string[]; budget?: number } = {}): VisibleGraph {
  const h = buildHierarchy(g.nodes, o.levels ?? []);
  return visibleGraph(g.nodes, g.edges, h, new Map(g.edges.map((e) => [e.id, edgeHealth(e)])), { budget: o.budget ?? 10_000, userExpanded: new Set(), userCollapsed: new Set(o.collapsed ?? []) });
}

function noOverlaps(v: VisibleGraph, p: Positions): void {
  const rects = v.nodes.map((n) => ({ id: n.id, r: rectOf(p.get(n.id)!, nodeSize(n)) }));
  for (let i = 0; i < rects.length; i++) for (let j = i + 1; j < rects.length; j++) assert.ok(!overlaps(rects[i]!.r, rects[j]!.r), `${rects[i]!.id} overlaps ${rects[j]!.id}`);
}

test('the first placement is a full layout', async () => {
  const g = cluster(1, 1, 4);
  const store: Positions = new Map();
  let calls = 0;
  const r = await place(vis(g), null, store, async (req) => {
    calls++;
    return gridLayout(req);
  });
  assert.equal(r.mode, 'full');
  assert.equal(calls, 1);
  assert.equal(r.positions.size, 4);
});

test('a live update keeps every position and places the new node beside its neighbour, overlapping nothing', async () => {
  const g = cluster(1, 1, 6);
  const store: Positions = new Map();
  const v1 = vis(g);
  const r1 = await place(v1, null, store, gridLayout);
  const before = new Map(r1.positions);
  const newcomer = node('workload:ns0-0/new', { namespace: 'ns0-0', zone: 'z0' });
  const g2: Graph = { ...g, nodes: [...g.nodes, newcomer], edges: [...g.edges, edge('workload:ns0-0/w2', newcomer.id)] };
  const v2 = vis(g2);
  let calls = 0;
  const r2 = await place(v2, v1, store, async (req) => {
    calls++;
    return gridLayout(req);
  });
  assert.equal(r2.mode, 'incremental');
  assert.equal(calls, 0, 'no layout run for a node with a placed neighbour');
  for (const [id, p] of before) assert.deepEqual(r2.positions.get(id), p, `${id} did not move`);
  const np = r2.positions.get(newcomer.id)!;
  assert.ok(np.x > before.get('workload:ns0-0/w2')!.x, 'a server is placed right of its client');
  noOverlaps(v2, r2.positions);
});

test('new nodes with no placed neighbour are laid out as a block beside the map', async () => {
  const g = cluster(1, 1, 3);
  const store: Positions = new Map();
  const v1 = vis(g);
  await place(v1, null, store, gridLayout);
  const a = node('process:x/a');
  const b = node('process:x/b');
  const g2: Graph = { ...g, nodes: [...g.nodes, a, b], edges: [...g.edges, edge(a.id, b.id)] };
  const v2 = vis(g2);
  const r = await place(v2, v1, store, gridLayout);
  const right = Math.max(...v1.nodes.map((n) => store.get(n.id)!.x));
  assert.ok(r.positions.get(a.id)!.x > right && r.positions.get(b.id)!.x > right);
  noOverlaps(v2, r.positions);
});

test('expanding a group puts its members where it was and moves only the nodes that block covers', async () => {
  const g = cluster(1, 3, 4);
  const store: Positions = new Map();
  const collapsedAll = ['group:namespace=ns0-0', 'group:namespace=ns0-1', 'group:namespace=ns0-2'];
  const v1 = vis(g, { levels: ['namespace'], collapsed: collapsedAll });
  assert.equal(v1.nodes.length, 3);
  const r1 = await place(v1, null, store, gridLayout);
  const anchor = r1.positions.get('group:namespace=ns0-1')!;
  const v2 = vis(g, { levels: ['namespace'], collapsed: ['group:namespace=ns0-0', 'group:namespace=ns0-2'] });
  const r2 = await place(v2, v1, store, gridLayout);
  const members = v2.nodes.filter((n) => n.parent === 'group:namespace=ns0-1');
  assert.equal(members.length, 4);
  const cx = members.reduce((s, n) => s + r2.positions.get(n.id)!.x, 0) / 4;
  const cy = members.reduce((s, n) => s + r2.positions.get(n.id)!.y, 0) / 4;
  assert.ok(Math.abs(cx - anchor.x) < 300 && Math.abs(cy - anchor.y) < 100, 'the block is centred where the group was');
  noOverlaps(v2, r2.positions);
  for (const id of ['group:namespace=ns0-0', 'group:namespace=ns0-2']) {
    if (!r2.moved.includes(id)) assert.deepEqual(r2.positions.get(id), r1.positions.get(id));
  }
});

test('collapsing a group puts it where its members were', async () => {
  const g = cluster(1, 2, 3);
  const store: Positions = new Map();
  const v1 = vis(g, { levels: ['namespace'] });
  const r1 = await place(v1, null, store, gridLayout);
  const members = v1.nodes.filter((n) => n.parent === 'group:namespace=ns0-0').map((n) => r1.positions.get(n.id)!);
  const v2 = vis(g, { levels: ['namespace'], collapsed: ['group:namespace=ns0-0'] });
  const r2 = await place(v2, v1, store, gridLayout);
  const p = r2.positions.get('group:namespace=ns0-0')!;
  const mx = members.reduce((s, q) => s + q.x, 0) / members.length;
  assert.ok(Math.abs(p.x - mx) <= 400, `near the members' centre (${p.x} vs ${mx})`);
  for (const n of v1.nodes.filter((x) => x.parent === 'group:namespace=ns0-1')) assert.deepEqual(r2.positions.get(n.id), r1.positions.get(n.id));
});

test('findFree returns the wanted spot when free and the nearest free one otherwise', () => {
  const size = { w: 100, h: 30 };
  assert.deepEqual(findFree({ x: 0, y: 0 }, size, []), { x: 0, y: 0 });
  const taken = [rectOf({ x: 0, y: 0 }, size)];
  const p = findFree({ x: 0, y: 0 }, size, taken);
  assert.ok(!overlaps(rectOf(p, size), taken[0]!));
  assert.ok(Math.hypot(p.x, p.y) < 150);
});
