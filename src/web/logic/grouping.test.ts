import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildHierarchy, EXTERNAL_GROUP, groupId, groupsToReveal, visibleGraph } from './grouping.js';
import { edgeHealth } from './health.js';
import { cluster, edge, node } from './test-graphs.js';
import type { Graph } from './api-types.js';

const healthOf = (g: Graph) => new Map(g.edges.map((e) => [e.id, edgeHealth(e)]));

function show(g: Graph, levels: string[], budget: number, o: { expanded?: string[]; collapsed?: string[]; previous?: string[] } = {}) {
  const h = buildHierarchy(g.nodes, levels);
  return { h, v: visibleGraph(g.nodes, g.edges, h, healthOf(g), { budget, userExpanded: new Set(o.expanded ?? []), userCollapsed: new Set(o.collapsed ?? []), previousAuto: o.previous ? new Set(o.previous) : undefined }) };
}

test('hierarchy: nodes go into zone then namespace boxes; externals into their own group; a level a node lacks is skipped', () => {
  const g: Graph = {
    view: 'workload',
    from: '',
    to: '',
    nodes: [node('workload:shop/a', { namespace: 'shop', zone: 'z1' }), node('workload:x/b', { namespace: 'x' }), node('external:example.com', {}, 'external'), node('namespace:shop', { namespace: 'shop' }, 'namespace')],
    edges: [],
  };
  const h = buildHierarchy(g.nodes, ['zone', 'namespace']);
  assert.deepEqual(h.chains.get('workload:shop/a'), [groupId([{ level: 'zone', value: 'z1' }]), groupId([{ level: 'zone', value: 'z1' }, { level: 'namespace', value: 'shop' }])]);
  assert.deepEqual(h.chains.get('workload:x/b'), ['group:namespace=x']);
  assert.deepEqual(h.chains.get('external:example.com'), [EXTERNAL_GROUP]);
  assert.deepEqual(h.chains.get('namespace:shop'), [], 'a namespace is not boxed in itself');
  assert.equal(h.groups.get('group:zone=z1')!.size, 1);
});

test('under the budget nothing collapses: every node drawn in its boxes, edges as they are', () => {
  const g = cluster(2, 2, 3);
  const { v } = show(g, ['zone', 'namespace'], 1000);
  assert.equal(v.nodes.length, 12);
  assert.equal(v.boxes.length, 2 + 4);
  assert.equal(v.edges.length, g.edges.length);
  assert.deepEqual(v.autoCollapsed, []);
  assert.equal(v.truncated, null);
  assert.equal(v.elements, 12 + 6 + g.edges.length);
  assert.equal(v.nodes.find((n) => n.id === 'workload:ns0-1/w2')!.parent, 'group:zone=z0/namespace=ns0-1');
});

test('past the budget namespaces collapse first, edges between groups are summed, and the smallest groups come back when they fit', () => {
  const g = cluster(3, 4, 20); // 240 nodes, ~470 edges
  const { v } = show(g, ['zone', 'namespace'], 120);
  assert.ok(v.elements <= 120, `${v.elements} elements`);
  assert.ok(v.autoCollapsed.length > 0);
  assert.ok(v.autoCollapsed.every((id) => id.includes('namespace=')), 'namespaces (the deepest level) collapsed, zones kept');
  const groupNodes = v.nodes.filter((n) => n.type === 'group');
  assert.ok(groupNodes.length > 0);
  const ns = groupNodes[0]!;
  assert.equal(ns.size, 20);
  assert.equal(ns.internalEdges, 19, 'the chain inside a namespace is not drawn but counted');
  const agg = v.edges.find((e) => e.id.startsWith('agg:') && e.source === ns.id);
  assert.ok(agg, 'edges leaving a collapsed namespace are one aggregated edge per peer');
  assert.equal(agg.counters.connections, agg.members.length * 10);
  // Some namespaces fit expanded again (120 leaves room for one namespace of 20 nodes and its edges).
  const expanded = v.boxes.filter((b) => b.group.level === 'namespace');
  assert.ok(expanded.length >= 1, 'the budget left room to expand some back');
});

test('far past the budget zones collapse too; a group the user expanded stays expanded', () => {
  const g = cluster(3, 4, 20);
  const { v } = show(g, ['zone', 'namespace'], 12);
  assert.ok(v.autoCollapsed.some((id) => id === 'group:zone=z0'));
  const { v: w } = show(g, ['zone', 'namespace'], 12, { expanded: ['group:zone=z1'] });
  assert.ok(w.boxes.some((b) => b.id === 'group:zone=z1'), 'the user expanded zone z1');
  assert.ok(w.nodes.some((n) => n.id.startsWith('group:zone=z1/namespace=')), 'its namespaces are shown collapsed inside it');
  const { v: x } = show(g, ['zone', 'namespace'], 150, { expanded: ['group:zone=z2/namespace=ns2-1'] });
  assert.equal(x.truncated, null);
  assert.ok(x.boxes.some((b) => b.id === 'group:zone=z2/namespace=ns2-1'), 'an expanded namespace is drawn as a box');
  assert.ok(x.boxes.some((b) => b.id === 'group:zone=z2'), 'and so is its zone');
  assert.ok(x.nodes.some((n) => n.id === 'workload:ns2-1/w0'));
});

test('hysteresis: a group collapsed on the previous update is only expanded again well under the budget', () => {
  const g = cluster(1, 2, 10); // 20 nodes, 18 chain edges + 20 cross = 38 edges; 1 zone box + 2 ns boxes
  const full = show(g, ['namespace'], 1000).v.elements;
  const budget = full + 2;
  assert.deepEqual(show(g, ['namespace'], budget).v.autoCollapsed, [], 'fits');
  const again = show(g, ['namespace'], budget, { previous: ['group:namespace=ns0-0'] }).v;
  assert.ok(again.collapsed.has('group:namespace=ns0-0'), 'kept collapsed: expanding would leave less than 20% of the budget free');
});

test('when collapsing everything is still too much, the problems and the busiest edges are drawn and the rest counted', () => {
  const nodes = Array.from({ length: 50 }, (_, i) => node(`process:n/p${i}`));
  const edges = nodes.slice(1).map((n, i) => edge(nodes[i]!.id, n.id, 80, { connections: i, failures: i === 3 ? { refused: 5 } : {} }));
  const g: Graph = { view: 'process', from: '', to: '', nodes, edges };
  const { v } = show(g, [], 30);
  assert.ok(v.truncated);
  assert.equal(v.truncated.totalEdges, 49);
  assert.ok(v.elements <= 30);
  assert.equal(v.edges[0]!.members[0]!.failures.refused, 5, 'the failing edge comes first');
});

test('when the nodes fit but not all their edges, every node is drawn with the most important edges', () => {
  const nodes = Array.from({ length: 10 }, (_, i) => node(`process:n/p${i}`));
  const edges = nodes.flatMap((a, i) => nodes.slice(i + 1).map((b, j) => edge(a.id, b.id, 80, { connections: i * 10 + j, resets: i === 8 ? 5 : 0 })));
  const g: Graph = { view: 'process', from: '', to: '', nodes, edges };
  const { v } = show(g, [], 30);
  assert.equal(v.nodes.length, 10);
  assert.deepEqual(v.truncated, { shownEdges: 20, totalEdges: 45 });
  assert.equal(v.edges[0]!.source, 'process:n/p8', 'the failing edge first');
  assert.ok(v.edges.slice(1).every((e, i, a) => i === 0 || a[i - 1]!.counters.connections >= e.counters.connections), 'then the busiest');
});

test('groupsToReveal names the groups around a node, outermost first', () => {
  const g = cluster(2, 2, 2);
  const h = buildHierarchy(g.nodes, ['zone', 'namespace']);
  assert.deepEqual(groupsToReveal(h, 'workload:ns1-0/w1'), ['group:zone=z1', 'group:zone=z1/namespace=ns1-0']);
  assert.deepEqual(groupsToReveal(h, 'group:zone=z1/namespace=ns1-0'), ['group:zone=z1']);
});

test('an aggregated edge inherits the worst health of its connections and names their firing alerts once each', () => {
  const x = node('workload:s/x', { namespace: 'n1' });
  const y = node('workload:s/y', { namespace: 'n1' });
  const z = node('workload:s/z', { namespace: 'n2' });
  const alert = { id: 'a1', name: 'FlowscopeEdgeFailures', severity: 'critical' as const, state: 'firing' as const, since: '2026-12-07T10:00:00Z' };
  const resolved = { ...alert, id: 'a2', name: 'FlowscopeRttAnomaly', state: 'resolved' as const };
  const g: Graph = { view: 'workload', from: '', to: '', nodes: [x, y, z], edges: [edge(x.id, z.id, 80, { alerts: [alert, resolved] }), edge(y.id, z.id, 80, { alerts: [alert] }), edge(y.id, z.id, 81)] };
  const { v } = show(g, ['namespace'], 1000, { collapsed: [groupId([{ level: 'namespace', value: 'n1' }])] });
  const agg = v.edges.find((e) => e.id.startsWith('agg:'))!;
  assert.equal(agg.members.length, 3);
  assert.equal(agg.health, 'failing', 'the critical alert colours the whole aggregate');
  assert.deepEqual(agg.reasons, ['2 of 3 connections between them are failing', 'alert: FlowscopeEdgeFailures since 2026-12-07 10:00:00Z']);
  const { v: open } = show(g, ['namespace'], 1000);
  const direct = open.edges.find((e) => e.id === g.edges[0]!.id)!;
  assert.equal(direct.health, 'failing');
  assert.deepEqual(direct.reasons, ['alert: FlowscopeEdgeFailures since 2026-12-07 10:00:00Z']);
});
