import { test } from 'node:test';
import assert from 'node:assert/strict';
import { K8sIndex, trimPod } from '../agent/enrich/k8s-index.js';
import { EnricherPodIndex } from './program-pods.js';
import { createDecoder, type DecoderEnv } from '../programs/decoders/index.js';

const CID = 'b'.repeat(56) + '4567cdef';
const UID = '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';

test("custom programs' cgroup decoder names pods from the agent's Kubernetes index", () => {
  const index = new K8sIndex();
  let live: K8sIndex | undefined;
  const pods = new EnricherPodIndex(() => live);
  const env: DecoderEnv = {
    cgroupPath: (id) => (id === 4242 ? `/kubepods/burstable/pod${UID}/${CID}` : undefined),
    processComm: () => undefined,
    processCgroup: () => undefined,
    ksym: () => undefined,
    ifname: () => undefined,
    blockDevice: () => undefined,
    pods,
  };
  const key = Buffer.alloc(8);
  key.writeBigUInt64LE(4242n);
  const decode = (output: string): string | null => createDecoder({ name: 'cgroup', output } as never, env).fromBytes(key);

  assert.equal(decode('pod'), '', 'no Kubernetes index (not in a cluster): empty');
  live = index;
  assert.equal(decode('pod'), '', 'pod not (yet) known: empty');
  index.upsertPod(
    trimPod(
      {
        metadata: { name: 'cart-7d9f', namespace: 'shop', uid: UID },
        spec: { nodeName: 'n1', containers: [{ name: 'cart', image: 'r/cart:v3' }] },
        status: { phase: 'Running', podIP: '10.1.2.3', containerStatuses: [{ name: 'cart', containerID: `containerd://${CID}` }] },
      },
      'n1',
    ).rec,
  );
  assert.equal(decode('pod'), 'cart-7d9f');
  assert.equal(decode('namespace'), 'shop');
  assert.equal(decode('container'), 'cart');
  assert.equal(decode('container_id'), CID);
  assert.equal(pods.size, 1);
});
