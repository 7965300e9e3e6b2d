import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JsonBytesCache, JsonWriter } from '../../lib/json-writer.js';
import { C, newSide } from './counters.js';
import { processEndpoint } from './endpoint.js';
import { fineTotalsOf } from './fine-totals.js';
import { graphJson } from './graph-json.js';
import { ViewIndex } from './view-index.js';
import { groupTotals } from './view-totals.js';
import { parseView } from './views.js';
import type { EdgeTotals, ResolvedEdge } from '../store/store.js';

test('JsonBytesCache: each item made once, written as it was made, across buffer growth', () => {
  const cache = new JsonBytesCache();
  let made = 0;
  const w = new JsonWriter();
  const text = (i: number): string => JSON.stringify({ i, name: `é-${'x'.repeat(i % 300)}` });
  for (let round = 0; round < 2; round++) {
    for (let i = 0; i < 2000; i++) {
      if (i) w.raw(',');
      cache.write(w, i, () => (made++, text(i)));
    }
    w.raw(';');
  }
  const expected = Array.from({ length: 2000 }, (_, i) => text(i)).join(',') + ';';
  assert.equal(Buffer.concat(w.finish()).toString('utf8'), expected + expected);
  assert.equal(made, 2000, 'made once per item');
});

const ep = (pod: string, version: string) => processEndpoint('node-a', 'z1', pod, '', { namespace: 'shop', workload: 'payments', pod, version });
const client = processEndpoint('node-b', 'z1', 'checkout', '', { namespace: 'shop', workload: 'checkout', pod: 'checkout-1' });
let nextId = 0;
const edgeTo = (server: ReturnType<typeof ep>): ResolvedEdge => ({ key: String(nextId), id: nextId++, client, server, port: 8080, protocol: 'tcp' });
const traffic = (e: ResolvedEdge, opened: number): EdgeTotals => {
  const s = newSide();
  s[C.opened] = opened;
  return { edge: e, sides: [s, undefined] };
};

test("graph JSON: a node's labels follow which of its members had traffic, also once kept encoded", () => {
  const index = new ViewIndex(parseView('workload'));
  const [p1, p2, p3] = [edgeTo(ep('payments-1', 'v1')), edgeTo(ep('payments-2', 'v2')), edgeTo(ep('payments-3', 'v3'))];
  const answer = (totals: EdgeTotals[]) => {
    const g = JSON.parse(Buffer.concat(graphJson(groupTotals(index, fineTotalsOf(totals)), { from: 0, to: 1 })).toString('utf8'));
    return { node: g.nodes.find((n: { id: string }) => n.id === 'workload:shop/payments'), edges: g.edges };
  };
  // One member with traffic: its own labels; then both; asked twice (the second from the encoded copy).
  assert.equal(answer([traffic(p1, 3)]).node.labels.version, 'v1');
  assert.equal(answer([traffic(p1, 3), traffic(p2, 1)]).node.labels.version, 'v1,v2');
  assert.equal(answer([traffic(p1, 3), traffic(p2, 1)]).node.labels.version, 'v1,v2');
  assert.equal(answer([traffic(p2, 1)]).node.labels.version, 'v2');
  // A third member joins the node: every member with traffic again, the labels hold it too.
  const all = answer([traffic(p1, 1), traffic(p2, 1), traffic(p3, 5)]);
  assert.equal(all.node.labels.version, 'v1,v2,v3');
  assert.equal(all.edges.length, 1);
  assert.equal(all.edges[0].id, 'workload|workload:shop/checkout|workload:shop/payments|8080');
  assert.equal(all.edges[0].source, 'workload:shop/checkout');
  assert.equal(all.edges[0].connections, 7);
  assert.equal(all.edges[0].protocol, 'tcp');
});
