import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MapBatch, MapType } from '../bpf/index.js';
import { HistogramMetric, MapLayoutError, ValueMetric, type MapShape } from './metrics.js';
import type { DecoderEnv } from './decoders/index.js';
import type { HistogramSpec } from './schema.js';

const env: DecoderEnv = {
  cgroupPath: () => undefined,
  processComm: () => undefined,
  processCgroup: () => undefined,
  ksym: () => undefined,
  ifname: () => undefined,
  blockDevice: () => undefined,
};

/** A whole-map read as the kernel returns it: keys and values side by side (per-CPU values in 8-byte slots). */
function batch(entries: Array<[Buffer, number[]]>, keySize: number, valueSize: number, cpus = 1): MapBatch {
  const cpuStride = cpus > 1 ? Math.ceil(valueSize / 8) * 8 : 0;
  const stride = cpus > 1 ? cpuStride * cpus : valueSize;
  const keys = Buffer.alloc(entries.length * keySize);
  const values = Buffer.alloc(entries.length * stride);
  entries.forEach(([k, vs], i) => {
    k.copy(keys, i * keySize);
    vs.forEach((v, c) => {
      const o = i * stride + c * cpuStride;
      if (valueSize === 8) values.writeBigUInt64LE(BigInt(v), o);
      else values.writeUInt32LE(v, o);
    });
  });
  return new MapBatch(entries.length, new DataView(keys.buffer, keys.byteOffset, keys.length), new DataView(values.buffer, values.byteOffset, values.length), keySize, stride, cpuStride, cpus);
}

const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};
const key = (...parts: Array<[number, number]>): Buffer => Buffer.concat(parts.map(([v, size]) => (size === 8 ? (() => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(v));
  return b;
})() : u32(v))));

const shape = (keySize: number, valueSize = 8, type: number = MapType.hash): MapShape => ({ name: 'm', type, typeName: 'hash', keySize, valueSize });

test('a counter sums the keys that decode to the same labels and counts dropped keys', () => {
  const m = new ValueMetric('counter', {
    name: 'ops_total',
    help: 'Operations',
    labels: [{ name: 'op', size: 4, decoders: [{ name: 'uint' }, { name: 'static_map', static_map: { 0: 'read', 1: 'write', 2: 'write' } }] }],
  }, env, 'p_');
  m.bind(shape(4));
  const out: string[] = [];
  const stats = { keys: 0, skipped: 0 };
  m.render(batch([[u32(0), [5]], [u32(1), [7]], [u32(2), [3]], [u32(9), [100]]], 4, 8), out, stats);
  assert.deepEqual(out, ['# HELP p_ops_total Operations', '# TYPE p_ops_total counter', 'p_ops_total{op="read"} 5', 'p_ops_total{op="write"} 10']);
  assert.deepEqual(stats, { keys: 4, skipped: 1 });
});

test('per-CPU values are summed; skip_zero leaves out empty array slots', () => {
  const m = new ValueMetric('counter', { name: 'packets_total', help: 'P', skip_zero: true, labels: [{ name: 'protocol', size: 4, decoders: [{ name: 'ip_protocol' }] }] }, env, '');
  m.bind(shape(4, 8, MapType.percpuArray));
  const out: string[] = [];
  m.render(batch([[u32(0), [0, 0]], [u32(1), [2, 3]], [u32(6), [10, 0]], [u32(17), [0, 4]]], 4, 8, 2), out, { keys: 0, skipped: 0 });
  assert.deepEqual(out.slice(2), ['packets_total{protocol="icmp"} 5', 'packets_total{protocol="tcp"} 10', 'packets_total{protocol="udp"} 4']);
});

test('a gauge reads a field of a struct value; u32 values work', () => {
  const g = new ValueMetric('gauge', { name: 'queue_depth', help: 'Q', value: { offset: 4, size: 4 }, labels: [{ name: 'cpu', size: 4 }] }, env, '');
  g.bind(shape(4, 12));
  const vals = Buffer.alloc(12);
  vals.writeUInt32LE(99, 0);
  vals.writeUInt32LE(42, 4);
  const b = new MapBatch(1, new DataView(u32(3).buffer.slice(0)), new DataView(vals.buffer, vals.byteOffset, 12), 4, 12, 0, 1);
  const out: string[] = [];
  g.render(b, out, { keys: 0, skipped: 0 });
  assert.deepEqual(out, ['# HELP queue_depth Q', '# TYPE queue_depth gauge', 'queue_depth{cpu="3"} 42']);
});

test('a counter without labels sums the whole map into one series', () => {
  const m = new ValueMetric('counter', { name: 'events_total', help: 'E' }, env, '');
  m.bind(shape(4, 8, MapType.array));
  const out: string[] = [];
  m.render(batch([[u32(0), [3]], [u32(1), [4]]], 4, 8), out, { keys: 0, skipped: 0 });
  assert.deepEqual(out.slice(2), ['events_total 7']);
});

test('layout mismatches are refused with the sizes and what to change', () => {
  const m = new ValueMetric('counter', { name: 'x_total', help: 'X', labels: [{ name: 'a', size: 4 }, { name: 'b', size: 2 }] }, env, '');
  assert.throws(() => m.bind(shape(8)), (e: unknown) => e instanceof MapLayoutError && /key of map 'm' is 8 bytes but the labels cover 6 bytes \(a@0\+4, b@4\+2\)/.test(e.message));
  const s = new ValueMetric('counter', { name: 'y_total', help: 'Y', labels: [{ name: 'a', size: 4 }] }, env, '');
  assert.throws(() => s.bind(shape(4, 24)), /value of map 'm' is 24 bytes; say which field to export with value/);
  assert.throws(() => s.bind({ ...shape(4), type: MapType.ringbuf, typeName: 'ringbuf' }), /is a ringbuf map; metrics come from hash, array/);
  // Explicit offsets may leave padding at the end, never run past the key.
  const p = new ValueMetric('counter', { name: 'z_total', help: 'Z', labels: [{ name: 'a', size: 4, offset: 0 }] }, env, '');
  p.bind(shape(8));
  const q = new ValueMetric('counter', { name: 'w_total', help: 'W', labels: [{ name: 'a', size: 8, offset: 4 }] }, env, '');
  assert.throws(() => q.bind(shape(8)), /labels cover 12 bytes/);
});

function hist(spec: Partial<HistogramSpec>): HistogramMetric {
  const h = new HistogramMetric({
    name: 'lat_seconds',
    help: 'Latency',
    bucket_type: 'exp2',
    labels: [{ name: 'op', size: 4 }, { name: 'bucket', size: 8 }],
    ...spec,
  }, env, '');
  h.bind(shape(12));
  return h;
}

function renderHist(h: HistogramMetric, entries: Array<[number, number, number]>): string[] {
  const out: string[] = [];
  h.render(batch(entries.map(([op, b, v]) => [key([op, 4], [b, 8]), [v]]), 12, 8), out, { keys: 0, skipped: 0 });
  return out.slice(2);
}

test('log2 histograms: cumulative buckets 2^i x multiplier, overflow in +Inf, the sum from bucket_max + 1', () => {
  const h = hist({ bucket_min: 0, bucket_max: 3, bucket_multiplier: 0.001 });
  assert.deepEqual(h.bounds, [0.001, 0.002, 0.004, 0.008]);
  assert.deepEqual(renderHist(h, [[1, 0, 2], [1, 2, 3], [1, 9, 1], [1, 4, 123], [0, 1, 1]]), [
    'lat_seconds_bucket{op="1",le="0.001"} 2',
    'lat_seconds_bucket{op="1",le="0.002"} 2',
    'lat_seconds_bucket{op="1",le="0.004"} 5',
    'lat_seconds_bucket{op="1",le="0.008"} 5',
    'lat_seconds_bucket{op="1",le="+Inf"} 6',
    'lat_seconds_sum{op="1"} 123',
    'lat_seconds_count{op="1"} 6',
    'lat_seconds_bucket{op="0",le="0.001"} 0',
    'lat_seconds_bucket{op="0",le="0.002"} 1',
    'lat_seconds_bucket{op="0",le="0.004"} 1',
    'lat_seconds_bucket{op="0",le="0.008"} 1',
    'lat_seconds_bucket{op="0",le="+Inf"} 1',
    'lat_seconds_count{op="0"} 1',
  ]);
});

test('linear histograms: bucket i holds values up to i x multiplier; below bucket_min goes to the first', () => {
  const h = hist({ bucket_type: 'linear', bucket_min: 1, bucket_max: 4, bucket_multiplier: 4096 });
  assert.deepEqual(h.bounds, [4096, 8192, 12288, 16384]);
  const lines = renderHist(h, [[1, 0, 1], [1, 1, 5], [1, 3, 2]]);
  assert.deepEqual(lines.slice(0, 5), [
    'lat_seconds_bucket{op="1",le="4096"} 6',
    'lat_seconds_bucket{op="1",le="8192"} 6',
    'lat_seconds_bucket{op="1",le="12288"} 8',
    'lat_seconds_bucket{op="1",le="16384"} 8',
    'lat_seconds_bucket{op="1",le="+Inf"} 8',
  ]);
});

test('exp2zero and fixed bucket types', () => {
  assert.deepEqual(hist({ bucket_type: 'exp2zero', bucket_min: 0, bucket_max: 3 }).bounds, [0, 1, 2, 4]);
  const f = hist({ bucket_type: 'fixed', bucket_keys: [10, 100, 1000], bucket_multiplier: 0.001 });
  assert.deepEqual(f.bounds, [0.01, 0.1, 1]);
  assert.deepEqual(renderHist(f, [[0, 100, 4], [0, 1000, 1], [0, 5000, 2]]).slice(0, 4), [
    'lat_seconds_bucket{op="0",le="0.01"} 0',
    'lat_seconds_bucket{op="0",le="0.1"} 4',
    'lat_seconds_bucket{op="0",le="1"} 5',
    'lat_seconds_bucket{op="0",le="+Inf"} 7',
  ]);
});
