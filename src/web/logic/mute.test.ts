import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isMuted, parseMuteRule, parseMuteRules } from './mute.js';
import type { GraphEdge, GraphNode } from './api-types.js';

const nodes = new Map<string, GraphNode>([
  ['workload:monitoring/prometheus', { id: 'workload:monitoring/prometheus', kind: 'workload', name: 'prometheus', labels: { namespace: 'monitoring', app: 'prometheus' } }],
  ['workload:shop/checkout', { id: 'workload:shop/checkout', kind: 'workload', name: 'checkout', labels: { namespace: 'shop', app: 'checkout', zone: 'a,b' } }],
  ['process:n1/kubelet', { id: 'process:n1/kubelet', kind: 'process', name: 'kubelet', labels: { node: 'n1' } }],
]);

function edge(source: string, target: string, port: number): GraphEdge {
  return { id: `workload|${source}|${target}|${port}`, source, target, port, protocol: 'tcp', connections: 1, active: 0, failures: {}, bytes_sent: 0, bytes_received: 0, retransmits: 0, resets: 0, rtt_p50_seconds: null, rtt_p99_seconds: null, connect_p50_seconds: null, connect_p99_seconds: null, sides: ['client'], client: null, server: null };
}

const scrape = edge('workload:monitoring/prometheus', 'workload:shop/checkout', 9090);
const health = edge('process:n1/kubelet', 'workload:shop/checkout', 8080);
const call = edge('workload:shop/checkout', 'workload:monitoring/prometheus', 443);

test('mute rules: every term of a rule must hold; any rule mutes', () => {
  const { rules, errors } = parseMuteRules(['port=9090', 'source=kube*']);
  assert.deepEqual(errors, []);
  assert.equal(isMuted(scrape, rules, nodes), true);
  assert.equal(isMuted(health, rules, nodes), true);
  assert.equal(isMuted(call, rules, nodes), false);
  const both = [parseMuteRule('namespace=monitoring,port=9090')];
  assert.equal(isMuted(scrape, both, nodes), true);
  assert.equal(isMuted(call, both, nodes), false, 'namespace holds but the port does not');
});

test('mute rules: label keys, either end, negation, multi-valued labels', () => {
  assert.equal(isMuted(call, [parseMuteRule('label.app=prometheus')], nodes), true, 'the server end has app=prometheus');
  assert.equal(isMuted(call, [parseMuteRule('target=prometheus')], nodes), true);
  assert.equal(isMuted(call, [parseMuteRule('source=prometheus')], nodes), false);
  assert.equal(isMuted(call, [parseMuteRule('port!=443')], nodes), false);
  assert.equal(isMuted(scrape, [parseMuteRule('zone=b')], nodes), true, 'one of the values "a,b"');
});

test('mute rules: malformed rules are reported, not applied', () => {
  const { rules, errors } = parseMuteRules(['port', 'port=', ' , ']);
  assert.equal(rules.length, 0);
  assert.equal(errors.length, 3);
  assert.match(errors[0]!.message, /not KEY=VALUE/);
  assert.match(errors[1]!.message, /no value/);
  assert.match(errors[2]!.message, /at least one term/);
});
