import { test } from 'node:test';
import assert from 'node:assert/strict';
import { L7Switch, parseL7Rule } from './switch.js';

test('the last matching rule wins; unmatched cgroups follow the default', () => {
  const s = new L7Switch(['off:namespace=kube-system', 'on:namespace=kube-system,workload=coredns', 'off:cgroup=/system.slice/*']);
  assert.equal(s.decide('/kubepods/pod1', { namespace: 'kube-system', workload: 'kube-proxy' }), false);
  assert.equal(s.decide('/kubepods/pod2', { namespace: 'kube-system', workload: 'coredns' }), true);
  assert.equal(s.decide('/system.slice/nginx.service', undefined), false);
  assert.equal(s.decide('/user.slice', undefined), true);
  const off = new L7Switch(['off', 'on:workload=checkout']);
  assert.equal(off.decide('/x', { workload: 'checkout' }), true);
  assert.equal(off.decide('/x', { workload: 'payments' }), false);
});

test('bad rules are refused with what was expected', () => {
  assert.throws(() => parseL7Rule('maybe'), /expected on\|off/);
  assert.throws(() => parseL7Rule('off:pod=x'), /not one of namespace=NS/);
  assert.throws(() => parseL7Rule('off:namespace='), /not one of/);
});
