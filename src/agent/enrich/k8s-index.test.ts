import { test } from 'node:test';
import assert from 'node:assert/strict';
import { K8sIndex, trimPod, trimOwned, trimService, bareContainerId } from './k8s-index.js';

const podOf = (owner: { kind: string; name: string } | undefined, extra: Record<string, unknown> = {}) =>
  trimPod(
    {
      metadata: { name: 'p-1', namespace: 'ns', uid: 'u1', labels: { 'pod-template-hash': '5d9f8b7c6d' }, ownerReferences: owner ? [{ ...owner, controller: true }] : [] },
      spec: { nodeName: 'n1', containers: [{ name: 'app', image: 'r/app:v2' }] },
      status: { phase: 'Running', podIP: '10.1.2.3', containerStatuses: [{ name: 'app', containerID: 'cri-o://abc' }] },
      ...extra,
    },
    'n1',
  ).rec;

test('workload roll-up: ReplicaSet → Deployment, Job → CronJob, others as they are', () => {
  const ix = new K8sIndex();
  ix.setOwner('ReplicaSet', 'ns/web-5d9f8b7c6d', trimOwned({ metadata: { name: 'web-5d9f8b7c6d', ownerReferences: [{ kind: 'Deployment', name: 'web', controller: true }] } }).rec);
  ix.setOwner('Job', 'ns/backup-28712345', trimOwned({ metadata: { name: 'backup-28712345', ownerReferences: [{ kind: 'CronJob', name: 'backup', controller: true }] } }).rec);
  assert.deepEqual(ix.workloadOf(podOf({ kind: 'ReplicaSet', name: 'web-5d9f8b7c6d' })), { kind: 'Deployment', name: 'web' });
  assert.deepEqual(ix.workloadOf(podOf({ kind: 'Job', name: 'backup-28712345' })), { kind: 'CronJob', name: 'backup' });
  assert.deepEqual(ix.workloadOf(podOf({ kind: 'StatefulSet', name: 'db' })), { kind: 'StatefulSet', name: 'db' });
  assert.deepEqual(ix.workloadOf(podOf({ kind: 'DaemonSet', name: 'agent' })), { kind: 'DaemonSet', name: 'agent' });
  assert.deepEqual(ix.workloadOf(podOf(undefined)), { kind: 'Pod', name: 'p-1' });
  // ReplicaSet not (yet) seen: the Deployment's name from the pod-template-hash suffix.
  assert.deepEqual(ix.workloadOf(podOf({ kind: 'ReplicaSet', name: 'api-5d9f8b7c6d' })), { kind: 'Deployment', name: 'api' });
});

test('pods by IP: replacement with the same IP, deletion of the old one after the new one arrived', () => {
  const ix = new K8sIndex();
  const a = podOf(undefined);
  ix.upsertPod(a);
  const b = { ...a, uid: 'u2', name: 'p-2' };
  ix.upsertPod(b);
  ix.removePod(a);
  assert.equal(ix.podsByIp.get('10.1.2.3')?.name, 'p-2', 'deleting the old pod leaves the new one');
  ix.removePod(b);
  assert.equal(ix.podsByIp.size, 0);
});

test('containers are kept only for pods on this node; finished and host-network pods do not own IPs', () => {
  assert.deepEqual(podOf(undefined).containers, [{ name: 'app', id: 'abc', image: 'r/app:v2' }]);
  assert.equal(trimPod({ metadata: { name: 'x', uid: 'u' }, spec: { nodeName: 'other' } }, 'n1').rec.containers, undefined);
  const ix = new K8sIndex();
  ix.upsertPod(podOf(undefined, { status: { phase: 'Succeeded', podIP: '10.9.9.9' } }));
  ix.upsertPod({ ...podOf(undefined, { spec: { hostNetwork: true, nodeName: 'n1' } }), uid: 'h' });
  assert.equal(ix.podsByIp.size, 0);
  assert.equal(bareContainerId('containerd://0123'), '0123');
});

test('headless services have no cluster IP', () => {
  assert.deepEqual(trimService({ metadata: { name: 's', namespace: 'n' }, spec: { clusterIP: 'None', clusterIPs: ['None'] } }).rec.clusterIPs, []);
  assert.deepEqual(trimService({ metadata: { name: 's', namespace: 'n' }, spec: { clusterIP: '10.96.0.1', clusterIPs: ['10.96.0.1', 'fd00::1'] } }).rec.clusterIPs, ['10.96.0.1', 'fd00::1']);
});
