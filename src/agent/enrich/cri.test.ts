import { test } from 'node:test';
import assert from 'node:assert/strict';
import { containerMeta, preferredImage, sandboxIps, type Sandbox } from './cri.js';
import type { CriPodSandboxStatus } from './cri-client.js';

const ID = 'a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90';
const IMAGE_ID = `sha256:${'0f'.repeat(32)}`;
const DIGEST = `docker.io/library/busybox@sha256:${'ab'.repeat(32)}`;

test('image: the tag reference before a digest reference before an image id', () => {
  assert.equal(preferredImage(['', 'docker.io/library/busybox:latest', IMAGE_ID]), 'docker.io/library/busybox:latest');
  assert.equal(preferredImage([undefined, IMAGE_ID, DIGEST]), DIGEST);
  assert.equal(preferredImage([undefined, IMAGE_ID, IMAGE_ID.slice(7)]), IMAGE_ID);
  assert.equal(preferredImage([]), '');
});

// Shapes as containerd 1.6 answers ListContainers (measured in test/identity/containerd.test.ts).
const listed = {
  id: ID,
  metadata: { name: 'web', attempt: 0 },
  image: { image: 'docker.io/library/busybox:1.35' },
  image_ref: IMAGE_ID,
  labels: { 'io.kubernetes.container.name': 'shop-web', 'io.kubernetes.pod.name': 'web-1', 'io.kubernetes.pod.namespace': 'shop', 'io.kubernetes.pod.uid': 'u-1' },
};
const sandbox: Sandbox = { pod: { name: 'sandbox-name', namespace: 'sandbox-ns', uid: 'u-2' }, ips: ['10.1.2.3'], known: true };

test('a kubelet container: name, pod and namespace from the io.kubernetes labels, version from the tag', () => {
  const m = containerMeta(listed, sandbox, 'containerd');
  assert.deepEqual({ ...m, labels: undefined }, { id: ID, name: 'shop-web', image: 'docker.io/library/busybox:1.35', version: '1.35', labels: undefined, ips: ['10.1.2.3'], runtime: 'containerd', pod: { name: 'web-1', namespace: 'shop', uid: 'u-1' } });
});

test('a container without kubelet labels: name from its metadata, pod from its sandbox', () => {
  const m = containerMeta({ ...listed, labels: {} }, sandbox, 'cri-o');
  assert.equal(m.name, 'web');
  assert.deepEqual(m.pod, sandbox.pod);
  assert.equal(m.runtime, 'cri-o');
});

test('only an image id: no version; no sandbox known: no pod, no addresses', () => {
  const m = containerMeta({ ...listed, image: { image: IMAGE_ID }, labels: {} }, undefined, 'containerd');
  assert.equal(m.image, IMAGE_ID);
  assert.equal(m.version, '');
  assert.equal(m.pod, undefined);
  assert.deepEqual(m.ips, []);
});

test('sandbox addresses: its own, but none on the node network', () => {
  const status = (network: string, ip: string, more: string[] = []): CriPodSandboxStatus => ({
    id: 's',
    metadata: null,
    state: 'SANDBOX_READY',
    labels: {},
    network: { ip, additional_ips: more.map((x) => ({ ip: x })) },
    linux: { namespaces: { options: { network } } },
  });
  assert.deepEqual(sandboxIps(status('POD', '10.1.2.3', ['fd00::3'])), ['10.1.2.3', 'fd00::3']);
  assert.deepEqual(sandboxIps(status('NODE', '192.168.1.10')), []);
  assert.deepEqual(sandboxIps(status('POD', '')), []);
});
