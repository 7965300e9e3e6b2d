import { test } from 'node:test';
import assert from 'node:assert/strict';
// elkjs is CommonJS: its constructor is the module's `default` (ELK's own bundle, run in-process here).
import elkjs from 'elkjs/lib/elk.bundled.js';
import { fromElk, toElk } from './elk-graph.js';
import { fullRequest, nodeSize, overlaps, rectOf } from './placement.js';
import { buildHierarchy, visibleGraph } from './grouping.js';
import { edgeHealth } from './health.js';
import { cluster } from './test-graphs.js';

test('ELK lays out boxes and nodes: clients left of servers, no overlaps, members inside their box, the same answer twice', async () => {
  const g = cluster(2, 2, 4);
  const h = buildHierarchy(g.nodes, ['zone', 'namespace']);
  const v = visibleGraph(g.nodes, g.edges, h, new Map(g.edges.map((e) => [e.id, edgeHealth(e)])), { budget: 1000, userExpanded: new Set(), userCollapsed: new Set() });
  const req = fullRequest(v);
  const elk = new elkjs.default();
  const root = toElk(req);
  assert.equal(root.children!.length, 2, 'two zone boxes at the top');
  assert.equal(root.children![0]!.children!.length, 2, 'each with two namespace boxes');
  const p = fromElk(await elk.layout(toElk(req)), req);
  const again = fromElk(await elk.layout(toElk(req)), req);
  assert.deepEqual([...again], [...p], 'deterministic');
  assert.equal(p.size, 16);
  const rects = v.nodes.map((n) => rectOf(p.get(n.id)!, nodeSize(n)));
  for (let i = 0; i < rects.length; i++) for (let j = i + 1; j < rects.length; j++) assert.ok(!overlaps(rects[i]!, rects[j]!), `${v.nodes[i]!.id} / ${v.nodes[j]!.id}`);
  // Within a namespace the chain w0 -> w1 -> w2 -> w3 runs left to right.
  const xs = [0, 1, 2, 3].map((w) => p.get(`workload:ns0-0/w${w}`)!.x);
  assert.deepEqual([...xs].sort((a, b) => a - b), xs);
  // Namespaces of different zones do not interleave: zone boxes are disjoint.
  const zoneRect = (z: number) => {
    const ps = v.nodes.filter((n) => n.id.includes(`ns${z}-`)).map((n) => rectOf(p.get(n.id)!, nodeSize(n)));
    return { x1: Math.min(...ps.map((r) => r.x1)), y1: Math.min(...ps.map((r) => r.y1)), x2: Math.max(...ps.map((r) => r.x2)), y2: Math.max(...ps.map((r) => r.y2)) };
  };
  assert.ok(!overlaps(zoneRect(0), zoneRect(1)));
});
