import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { failuresV1, histogramDeltaV1, histogramV1, workloadV1, type BatchV1, type HelloV1 } from './v1.js';
import { columnarBatch, recordBatch } from './columns.js';
import { CONNECT_BUCKETS, DNS_BUCKETS } from '../distribution.js';
import { REQUEST_BUCKETS } from '../requests.js';
import type { AgentCapabilities } from '../capabilities.js';
import type { WorkloadEnd } from '../workload.js';

// dist/src/model/wire/ -> src/model/wire/golden/
const golden = (name: string): URL => new URL(`../../../../src/model/wire/golden/${name}`, import.meta.url);

/** Compares with the golden file; FLOWSCOPE_UPDATE_GOLDEN=1 rewrites it (review the diff). */
function matchesGolden(name: string, value: unknown): void {
  const text = `${JSON.stringify(value, null, 2)}\n`;
  if (process.env.FLOWSCOPE_UPDATE_GOLDEN === '1') writeFileSync(golden(name), text);
  assert.equal(text, readFileSync(golden(name), 'utf8'), `${name} differs from its golden file: a wire change that is not an addition needs v2`);
}

const checkout: WorkloadEnd = {
  key: '1',
  container: 'app',
  pod: 'checkout-7d9f-x2',
  namespace: 'shop',
  workload: 'checkout',
  service: '',
  info: { kind: 'pod', workload_kind: 'Deployment', image: 'registry.local/checkout:2.1.0', version: '2.1.0', node: 'node-b', zone: 'zone-1' },
};
const payments: WorkloadEnd = { key: '2', container: 'payments', pod: 'payments-5c-aa', namespace: 'shop', workload: 'payments', service: 'payments', info: { kind: 'pod', node: 'node-a' } };

const capabilities: AgentCapabilities = {
  node: 'node-b',
  zone: 'zone-1',
  kernel: '6.18.0',
  agent: { version: '0.1.0', startedAt: '2026-12-07T10:00:00.000Z', intervalMs: 1000 },
  tcp: { hooks: [{ group: 'lifecycle', what: 'state changes', hook: 'tp_btf', programs: ['tcp_state_btf'], fallbacks: [] }], serverOwner: 'accepting process (accept hooks)', mapReads: { conns: 'batch' }, listenersBootstrapped: 3 },
  flows: null,
  bpfStats: false,
  identity: {
    process: { source: '/proc', cache: { entries: 1 } },
    containers: { cgroupLayouts: ['docker'], runtimes: [], cri: [] },
    kubernetes: { enabled: false, reason: 'off', resources: [] },
    nat: { state: 'off' },
  },
  limits: { maxSeries: 10000, maxConnections: 65536 },
};

test('hello v1 keeps its golden shape', () => {
  const hello: HelloV1 = {
    v: 1,
    kind: 'hello',
    run: { agent: 'node-b', node: 'node-b', start: '2026-12-07T10:00:00.000Z' },
    zone: 'zone-1',
    version: '0.1.0',
    interval_ms: 1000,
    capabilities,
  };
  matchesGolden('hello.json', hello);
});

test('batch v1 keeps its golden shape, built with the model helpers', () => {
  const connect = { bounds: CONNECT_BUCKETS, counts: CONNECT_BUCKETS.map((_, i) => (i === 3 ? 5 : i === 4 ? 1 : 0)), sum: 0.0061, count: 6 };
  const before = { counts: CONNECT_BUCKETS.map((_, i) => (i === 3 ? 2 : 0)), sum: 0.0021, count: 2 };
  const failures = new Float64Array([0, 3, 0, 1, 0]);
  const batch: BatchV1 = {
    v: 1,
    kind: 'batch',
    run: { agent: 'node-b', node: 'node-b', start: '2026-12-07T10:00:00.000Z' },
    seq: 42,
    from: '2026-12-07T10:00:41.000Z',
    to: '2026-12-07T10:00:42.000Z',
    tcp: [
      {
        role: 'client',
        process: 'checkout',
        peer: '10.0.0.7',
        port: 8080,
        local: workloadV1(checkout),
        remote: workloadV1(payments),
        local_addrs: ['10.0.1.5'],
        opened: 4,
        closed: 3,
        active: 2,
        failures: failuresV1(failures)!,
        bytes_sent: 4096,
        bytes_received: 65536,
        retransmits: 1,
        resets_sent: 0,
        resets_received: 3,
        connect: histogramDeltaV1(connect, before)!,
        requests: { count: 12, errors: 1, by_status: { '2xx': 10, '4xx': 1, '5xx': 1 }, duration: histogramV1({ bounds: REQUEST_BUCKETS, counts: REQUEST_BUCKETS.map((_, i) => (i === 3 ? 11 : i === 6 ? 1 : 0)), sum: 0.041, count: 12 }) },
      },
    ],
    flows: [{ direction: 'egress', protocol: 'udp', interface: 'eth0', peer: '10.0.0.53', port: 53, packets: 10, bytes: 840 }],
    drops: [{ reason: 'NO_SOCKET', direction: 'received', protocol: 'tcp', peer: '10.0.0.9', port: 9999, local: workloadV1(checkout), remote: {}, packets: 2 }],
    dns: [{ qtype: 'A', server: '10.0.0.53', client: workloadV1(checkout), rcodes: { NOERROR: 9, NXDOMAIN: 1 }, duration: histogramV1({ bounds: DNS_BUCKETS, counts: DNS_BUCKETS.map((_, i) => (i === 2 ? 8 : i === 4 ? 2 : 0)), sum: 0.03, count: 10 }) }],
    losses: { events: { ringbuf: 0 }, rolled_up: 0, flows: {}, batches_dropped: 0 },
  };
  matchesGolden('batch.json', batch);
});

test('a batch with its TCP records as columns keeps its golden shape and reads back as the same records', () => {
  const batch = JSON.parse(readFileSync(golden('batch.json'), 'utf8')) as BatchV1;
  const first = batch.tcp[0]!;
  batch.tcp.push(
    { ...first, role: 'server', process: 'payments', cgroup: '/kubepods/pod-aa', peer: '10.0.1.5', local: first.remote, remote: first.local, local_addrs: ['10.0.0.7', 'fd00::7'], failures: undefined, connect: undefined, requests: undefined },
    { ...first, peer: '10.96.0.10', actual_peers: [{ addr: '10.0.0.7', port: 8080, connections: 3 }, { addr: '10.0.0.8', port: 8080, connections: 1 }], local_addrs: [], failures: undefined, requests: undefined },
  );
  for (const r of batch.tcp) for (const k of Object.keys(r) as Array<keyof typeof r>) if (r[k] === undefined) delete r[k];
  const columnar = columnarBatch(batch);
  assert.equal('tcp' in columnar, false, 'columns replace the records');
  matchesGolden('batch-columns.json', columnar);
  assert.deepEqual(recordBatch(JSON.parse(JSON.stringify(columnar))), batch);
});

test('histogram deltas: nothing observed is no histogram; a reading is the difference of counts and sums', () => {
  const d = { bounds: [1, 2], counts: [3, 1], sum: 5, count: 4 };
  assert.equal(histogramDeltaV1(d, { counts: [3, 1], sum: 5, count: 4 }), undefined);
  assert.equal(histogramDeltaV1(undefined, undefined), undefined);
  assert.deepEqual(histogramDeltaV1(d, { counts: [1, 0], sum: 1, count: 1 }), { counts: [2, 1], sum: 4, count: 3 });
  assert.deepEqual(histogramDeltaV1(d, undefined), { counts: [3, 1], sum: 5, count: 4 });
});

test('an end without labels or facts is an empty object on the wire; failures only list reasons that happened', () => {
  assert.deepEqual(workloadV1({ key: '', container: '', pod: '', namespace: '', workload: '', service: '', info: {} }), {});
  assert.equal(failuresV1(new Float64Array(5)), undefined);
  assert.deepEqual(failuresV1([0, 0, 2, 0, 0]), { timeout: 2 });
});
