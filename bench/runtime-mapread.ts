// Whole-map reads of a 100,000-entry hash map: batch lookup against key-by-key iteration, per entry.
//   node dist/bench/runtime-mapread.js [entries]
import { BpfObject, codec } from '../src/bpf/index.js';
import { layout, pairValueCodec } from '../test/gen/maps.gen.js';
import { testObject } from '../test/support/paths.js';
import { fmt, median, table } from './support.js';

const entries = Number(process.argv[2] ?? 100_000);
const obj = BpfObject.load(testObject('maps'), { layout });
try {
  const m = obj.map('big_hash', codec.u32, pairValueCodec);
  for (let i = 0; i < entries; i++) m.set(i, { first: i, second: i });
  const time = (mode: 'batch' | 'iterate', drain = false): number => {
    m.mode = mode;
    const t0 = process.hrtime.bigint();
    const batch = m.readAll({ drain });
    const ns = Number(process.hrtime.bigint() - t0);
    if (batch.count !== entries) throw new Error(`read ${batch.count} of ${entries}`);
    return ns / entries;
  };
  const rounds = 7;
  const batchNs: number[] = [];
  const iterNs: number[] = [];
  for (let i = 0; i < rounds; i++) {
    batchNs.push(time('batch'));
    iterNs.push(time('iterate'));
  }
  const b = median(batchNs);
  const it = median(iterNs);
  console.log(`whole-map read of a ${fmt(entries)}-entry hash map (u32 key, 16-byte value), median of ${rounds}`);
  console.log(
    table([
      { method: 'batch lookup (BPF_MAP_LOOKUP_BATCH)', 'ns per entry': b.toFixed(0), 'ms per read': ((b * entries) / 1e6).toFixed(1) },
      { method: 'iteration (get_next_key + lookup)', 'ns per entry': it.toFixed(0), 'ms per read': ((it * entries) / 1e6).toFixed(1) },
    ]),
  );
  console.log(`iteration / batch cost ratio: ${(it / b).toFixed(1)}x`);
} finally {
  obj.close();
}
