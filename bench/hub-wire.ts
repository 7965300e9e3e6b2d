// Wire encodings for agent -> hub batches, measured on the same synthetic batches: frames (a JSON
// header, the TCP columns in binary: what agents send) with and without gzip, JSON + gzip with
// TCP records as columns (agents before frames), as records (older agents), against protobuf (protobufjs, the library @grpc/proto-loader brings) with and
// without gzip. Bytes per record on the wire, agent CPU to encode, hub CPU to decode and check.
//   node dist/bench/hub-wire.js [records-per-batch] [rounds]
// Rounds alternate the encodings; medians over rounds. The machine may be shared: see the spread.
import { gunzipSync, gzipSync } from 'node:zlib';
import protobuf from 'protobufjs';
import { parseFrames, parseMessages } from '../src/hub/api/ingest-http.js';
import { encodeFrame } from '../src/model/wire/frames.js';
import { batchTcpRows, columnarBatch } from '../src/model/wire/columns.js';
import type { BatchV1 } from '../src/model/wire/v1.js';
import { cluster, intervalBatches, rng } from './hub-synthetic.js';
import { cpuSeconds, fmt, median, table } from './support.js';

const perBatch = Number(process.argv[2] ?? 2000);
const rounds = Number(process.argv[3] ?? 7);

const workload = {
  fields: {
    container: { type: 'string', id: 1 },
    pod: { type: 'string', id: 2 },
    namespace: { type: 'string', id: 3 },
    workload: { type: 'string', id: 4 },
    service: { type: 'string', id: 5 },
    kind: { type: 'string', id: 6 },
    workload_kind: { type: 'string', id: 7 },
    image: { type: 'string', id: 8 },
    version: { type: 'string', id: 9 },
    node: { type: 'string', id: 10 },
    zone: { type: 'string', id: 11 },
    labels: { keyType: 'string', type: 'string', id: 12 },
  },
};
const root = protobuf.Root.fromJSON({
  nested: {
    Workload: workload,
    Histogram: { fields: { counts: { rule: 'repeated', type: 'double', id: 1 }, sum: { type: 'double', id: 2 }, count: { type: 'double', id: 3 } } },
    Failures: { fields: { other: { type: 'double', id: 1 }, refused: { type: 'double', id: 2 }, timeout: { type: 'double', id: 3 }, unreachable: { type: 'double', id: 4 }, reset: { type: 'double', id: 5 } } },
    TcpEdge: {
      fields: {
        role: { type: 'string', id: 1 },
        process: { type: 'string', id: 2 },
        cgroup: { type: 'string', id: 3 },
        peer: { type: 'string', id: 4 },
        port: { type: 'uint32', id: 5 },
        local: { type: 'Workload', id: 6 },
        remote: { type: 'Workload', id: 7 },
        local_addrs: { rule: 'repeated', type: 'string', id: 8 },
        opened: { type: 'double', id: 9 },
        closed: { type: 'double', id: 10 },
        active: { type: 'double', id: 11 },
        failures: { type: 'Failures', id: 12 },
        bytes_sent: { type: 'double', id: 13 },
        bytes_received: { type: 'double', id: 14 },
        retransmits: { type: 'double', id: 15 },
        resets_sent: { type: 'double', id: 16 },
        resets_received: { type: 'double', id: 17 },
        connect: { type: 'Histogram', id: 18 },
        rtt: { type: 'Histogram', id: 19 },
      },
    },
    Run: { fields: { agent: { type: 'string', id: 1 }, node: { type: 'string', id: 2 }, start: { type: 'string', id: 3 } } },
    Batch: {
      fields: {
        v: { type: 'uint32', id: 1 },
        kind: { type: 'string', id: 2 },
        run: { type: 'Run', id: 3 },
        seq: { type: 'uint64', id: 4 },
        from: { type: 'string', id: 5 },
        to: { type: 'string', id: 6 },
        tcp: { rule: 'repeated', type: 'TcpEdge', id: 7 },
      },
    },
  },
});
const Batch = root.lookupType('Batch');

const c = cluster(Math.max(200, perBatch), perBatch * 2, 1);
const now = Date.now();
const batch = intervalBatches(c, 1, now - 1000, now, rng(7))[0]!;
batch.tcp = batch.tcp.slice(0, perBatch);
const n = batch.tcp.length;

type Variant = { name: string; encode(): Buffer; decode(b: Buffer): number };
/** Reads every TCP record of the decoded batches (as the join does): the columns' decode is lazy. */
function readRows(messages: ReturnType<typeof parseMessages>): number {
  let ports = 0;
  for (const m of messages) {
    if (m.kind !== 'batch') continue;
    const rows = batchTcpRows(m as BatchV1);
    for (let i = 0; i < rows.length; i++) ports += rows.at(i).port;
  }
  return ports;
}

const variants: Variant[] = [
  {
    name: 'frames + gzip (column check, rows read)',
    encode: () => gzipSync(encodeFrame(columnarBatch(batch))),
    decode: (b) => readRows(parseFrames(gunzipSync(b))),
  },
  {
    name: 'frames (column check, rows read)',
    encode: () => Buffer.from(encodeFrame(columnarBatch(batch))),
    decode: (b) => readRows(parseFrames(b)),
  },
  {
    name: 'JSON columns + gzip (column check, rows read)',
    encode: () => gzipSync(JSON.stringify(columnarBatch(batch))),
    decode: (b) => readRows(parseMessages(gunzipSync(b).toString('utf8'))),
  },
  {
    name: 'JSON records + gzip (ajv check, rows read)',
    encode: () => gzipSync(JSON.stringify(batch)),
    decode: (b) => readRows(parseMessages(gunzipSync(b).toString('utf8'))),
  },
  {
    name: 'protobuf + gzip (no check)',
    encode: () => gzipSync(Batch.encode(Batch.fromObject(batch)).finish()),
    decode: (b) => (Batch.toObject(Batch.decode(gunzipSync(b)), { longs: Number, defaults: false }) as { tcp: unknown[] }).tcp.length,
  },
  {
    name: 'protobuf (no check)',
    encode: () => Buffer.from(Batch.encode(Batch.fromObject(batch)).finish()),
    decode: (b) => (Batch.toObject(Batch.decode(b), { longs: Number, defaults: false }) as { tcp: unknown[] }).tcp.length,
  },
];

const results = new Map(variants.map((v) => [v.name, { bytes: 0, enc: [] as number[], dec: [] as number[] }]));
for (let r = 0; r < rounds; r++) {
  for (const v of r % 2 ? [...variants].reverse() : variants) {
    const res = results.get(v.name)!;
    // CPU time (this process's threads), not wall time: the machine may be shared.
    let t = process.cpuUsage();
    const buf = v.encode();
    res.enc.push((cpuSeconds(process.cpuUsage(t)) * 1e6) / n);
    res.bytes = buf.length;
    t = process.cpuUsage();
    v.decode(buf);
    res.dec.push((cpuSeconds(process.cpuUsage(t)) * 1e6) / n);
  }
}
console.log(`${n} TCP records per batch (one node's interval), ${rounds} rounds, alternating; CPU µs per record, medians (min-max)\n`);
const spread = (xs: number[]): string => `${fmt(median(xs), 2)} (${fmt(Math.min(...xs), 2)}-${fmt(Math.max(...xs), 2)})`;
console.log(
  table(
    [...results].map(([name, r]) => ({
      encoding: name,
      'bytes/record': fmt(r.bytes / n, 1),
      'agent encode µs/record': spread(r.enc),
      'hub decode µs/record': spread(r.dec),
    })),
  ),
);
