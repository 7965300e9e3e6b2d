import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { wire } from '../../model/index.js';
import { RTT_BUCKETS } from '../../model/distribution.js';
import { addTcpRecord, newSide, type Side } from '../graph/counters.js';
import { processEndpoint, type Endpoint } from '../graph/endpoint.js';
import { buildViewGraph } from '../graph/graph.js';
import { parseView } from '../graph/views.js';
import type { EdgeTotals } from '../store/store.js';
import { explain } from './explain.js';

const ep = (pod: string, workload: string, node: string, version: string): Endpoint => processEndpoint(node, node === 'node-b' ? 'zone-b' : 'zone-a', workload, '', { pod, namespace: 'shop', workload, version, image: `shop/${workload}:${version}` });

function side(r: Partial<wire.TcpEdgeV1>): Side {
  const s = newSide();
  addTcpRecord(s, { role: 'client', process: 'p', peer: '', port: 0, local: {}, remote: {}, opened: 0, closed: 0, active: 0, bytes_sent: 0, bytes_received: 0, retransmits: 0, resets_sent: 0, resets_received: 0, ...r });
  return s;
}

let n = 0;
const member = (client: Endpoint, server: Endpoint, c: Partial<wire.TcpEdgeV1>): EdgeTotals => ({ edge: { key: String(n++), client, server, port: 8080, protocol: 'tcp' }, sides: [side(c), undefined] });

const payments = ep('payments-1', 'payments', 'node-c', 'v1');
const id = 'workload|workload:shop/checkout|workload:shop/payments|8080';

test('the client group that holds the failures, named by every domain that agrees, with its own shares', () => {
  // checkout v2 runs on node-b only and fails most; v1 on node-a a little.
  const totals = [
    member(ep('checkout-a1', 'checkout', 'node-a', 'v1'), payments, { opened: 64, failures: { refused: 1 } }),
    member(ep('checkout-a2', 'checkout', 'node-a', 'v1'), payments, { opened: 65 }),
    member(ep('checkout-b1', 'checkout', 'node-b', 'v2'), payments, { opened: 20, failures: { refused: 7 } }),
    member(ep('checkout-b2', 'checkout', 'node-b', 'v2'), payments, { opened: 36, failures: { refused: 7 } }),
  ];
  const edge = buildViewGraph(totals, parseView('workload')).edges.get(id)!;
  const e = explain({ edge, signal: 'failures', from: 0, to: 300_000 }, 300_000);
  assert.equal(e.sentence, '93% of refused connections to payments:8080 come from checkout v2 on node-b, which sends 35% of the traffic');
  assert.equal(e.side, 'client');
  assert.equal(e.domain, 'version');
  assert.equal(e.breakdown!.by, 'version');
  const top = e.breakdown!.parts[0]! as unknown as { value: string; signal_share: number };
  assert.deepEqual([top.value, top.signal_share], ['v2', 0.933]);
});

test('round trips: the slow server pod; and a problem spread over all of the traffic says so', () => {
  const slow = { opened: 10, rtt: { counts: RTT_BUCKETS.map((b) => (b === 0.05 ? 10 : 0)), sum: 0.45, count: 10 } };
  const fast = { opened: 10, rtt: { counts: RTT_BUCKETS.map((b) => (b === 0.00025 ? 10 : 0)), sum: 0.002, count: 10 } };
  const client = ep('checkout-a1', 'checkout', 'node-a', 'v1');
  const edge = buildViewGraph([member(client, payments, fast), member(client, ep('payments-2', 'payments', 'node-b', 'v1'), slow)], parseView('workload')).edges.get(id)!;
  const e = explain({ edge, signal: 'rtt', from: 0, to: 1 }, 1);
  assert.equal(e.sentence, '100% of slow round trips from checkout to payments:8080 land on payments pod payments-2 on node-b, which receives 50% of the traffic');
  const even = buildViewGraph([member(client, payments, { opened: 10, failures: { timeout: 5 } })], parseView('workload')).edges.get(id)!;
  assert.equal(explain({ edge: even, signal: 'failures', from: 0, to: 1 }, 1).sentence, 'Timed-out connections from checkout to payments:8080 are spread over all of its traffic: no version, pod, node or zone on either side stands out');
});
