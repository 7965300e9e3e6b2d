// Agent memory with 100,000 pods indexed, simulated through the local list/watch server the tests
// use (real object shapes). The server runs here; each measurement runs in a fresh child process:
//   trimmed: the agent's K8sWatcher (informers fed trimmed objects), after it synced every resource
//   full:    the same pods listed and kept as parsed objects (what an untrimmed informer cache holds)
//
//   node dist/bench/identity-k8s-memory.js [pods=100000]
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { FakeApiServer, endpointSlice, node, pod, replicaSet, service } from '../test/identity/fake-apiserver.js';
import { fmt, table } from './support.js';

const PODS = Number(process.argv[2] ?? 100_000);
const child = fileURLToPath(new URL('./identity-k8s-child.js', import.meta.url));

const api = new FakeApiServer();
for (let n = 0; n < 100; n++) api.add('nodes', node(`node-${n}`, `10.250.${n >> 8}.${n & 255}`, `zone-${n % 3}`));
for (let d = 0; d < 1000; d++) {
  api.add('replicasets', replicaSet(`ns${d % 50}`, `app${d}-5d9f8b7c6d`, `app${d}`));
  api.add('services', service(`ns${d % 50}`, `app${d}`, `10.96.${d >> 8}.${d & 255}`, 8080));
}
/** What real pods also carry (managed fields, volumes, env, probes, conditions): none of it indexed. */
function realistic(p: ReturnType<typeof pod>): ReturnType<typeof pod> {
  const o = p as any;
  const now = new Date().toISOString();
  o.metadata.annotations = { 'kubectl.kubernetes.io/restartedAt': now, 'prometheus.io/scrape': 'true' };
  o.metadata.managedFields = [
    { manager: 'kube-controller-manager', operation: 'Update', apiVersion: 'v1', time: now, fieldsType: 'FieldsV1', fieldsV1: { 'f:metadata': { 'f:generateName': {}, 'f:labels': { '.': {}, 'f:app': {}, 'f:pod-template-hash': {} }, 'f:ownerReferences': { '.': {} } }, 'f:spec': { 'f:containers': {}, 'f:dnsPolicy': {}, 'f:restartPolicy': {} } } },
    { manager: 'kubelet', operation: 'Update', apiVersion: 'v1', time: now, subresource: 'status', fieldsType: 'FieldsV1', fieldsV1: { 'f:status': { 'f:conditions': {}, 'f:containerStatuses': {}, 'f:hostIP': {}, 'f:phase': {}, 'f:podIP': {}, 'f:podIPs': {}, 'f:startTime': {} } } },
  ];
  const c = o.spec.containers[0];
  c.env = Array.from({ length: 8 }, (_, k) => ({ name: `SETTING_${k}`, value: `value-${k}` }));
  c.resources = { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } };
  c.livenessProbe = { httpGet: { path: '/healthz', port: 8080, scheme: 'HTTP' }, periodSeconds: 10, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 3 };
  c.volumeMounts = [{ name: 'kube-api-access', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true }];
  c.terminationMessagePath = '/dev/termination-log';
  c.imagePullPolicy = 'IfNotPresent';
  o.spec.volumes = [{ name: 'kube-api-access', projected: { defaultMode: 420, sources: [{ serviceAccountToken: { expirationSeconds: 3607, path: 'token' } }, { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } }] } }];
  o.spec.tolerations = [
    { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
    { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
  ];
  o.spec.dnsPolicy = 'ClusterFirst';
  o.spec.schedulerName = 'default-scheduler';
  o.spec.enableServiceLinks = true;
  o.status.conditions = ['PodReadyToStartContainers', 'Initialized', 'Ready', 'ContainersReady', 'PodScheduled'].map((type) => ({ type, status: 'True', lastProbeTime: null, lastTransitionTime: now }));
  o.status.qosClass = 'Burstable';
  o.status.startTime = now;
  return p;
}
const ipsBySvc = new Map<number, string[]>();
for (let i = 0; i < PODS; i++) {
  const ip = `10.${64 + ((i >> 16) & 63)}.${(i >> 8) & 255}.${i & 255}`;
  const d = i % 1000;
  api.add('pods', realistic(pod({ ns: `ns${d % 50}`, name: `app${d}-5d9f8b7c6d-${i.toString(36)}`, node: `node-${i % 100}`, ip, rs: `app${d}-5d9f8b7c6d`, hash: '5d9f8b7c6d', container: 'app', image: `registry.example/app${d}:v1.${i % 9}` })));
  let l = ipsBySvc.get(d);
  if (!l) ipsBySvc.set(d, (l = []));
  l.push(ip);
}
for (const [d, ips] of ipsBySvc) api.add('endpointslices', endpointSlice(`ns${d % 50}`, `app${d}`, ips, 8080));
await api.start();
const kubeconfig = join(tmpdir(), `fsid-bench-kubeconfig-${process.pid}`);
api.kubeconfig(kubeconfig);

function measure(mode: string): Promise<Record<string, number>> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--expose-gc', child, mode, kubeconfig, String(PODS)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.on('close', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`child ${mode} exited ${code}`))));
  });
}

try {
  const rows = [];
  for (const mode of ['trimmed', 'full']) {
    const r = await measure(mode);
    rows.push({ mode, pods: fmt(r.pods!), 'sync s': fmt(r.syncSeconds!, 1), 'heap MiB': fmt(r.heapMiB!, 1), 'RSS MiB': fmt(r.rssMiB!, 1), 'heap bytes/pod': fmt((r.heapMiB! * 1048576) / r.pods!) });
  }
  console.log(table(rows));
} finally {
  await api.stop();
  rmSync(kubeconfig, { force: true });
}
