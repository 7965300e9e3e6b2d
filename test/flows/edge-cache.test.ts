// The per-CPU edge cache in front of the edge map: the kernel side driven packet by packet with
// BPF_PROG_TEST_RUN (its flush, the busy and flushing hand-off, a full edge map), then the agent
// without the edge table (--no-edge-table: the cache is for the edge map) under trafgen at full rate
// flushing ten times a second, from the classifier's own CPU and from another one: counts equal the
// interface counters and trafgen's; with the table (the default) the cache is off.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BpfObject, codec } from '../../src/bpf/index.js';
import { onlineCpus } from '../../src/bpf/features.js';
import { FLOWS_OBJECT } from '../../src/agent/flows/tracer.js';
import { formatAddr } from '../../src/model/addr.js';
import { EdgeCacheFlushResult as ECF, edgeCacheStateCodec, edgeCountsCodec, edgeKeyCodec, edgeSlotCodec, type EdgeKey } from '../../src/bpf/gen/flows.gen.js';
import { startAgent } from '../support/agent.js';
import { commandExists, sh } from '../support/run.js';
import { createFlowLink, diff, ifCounters, trafgen, udpFrame } from './support.js';

const haveTrafgen = commandExists('trafgen');
const cpus = onlineCpus();

test('kernel side: packets wait in the cache until a flush moves them into the edge map; idle slots are freed; busy and flushing keep flush and classifier apart; a full edge map keeps counts waiting', () => {
  const obj = BpfObject.load(FLOWS_OBJECT, {
    programs: ['flow_in', 'edge_cache_flush'],
    globals: { track_flows: 0, edge_cache: 1, enable_dns: 0 },
    maxEntries: { flows: 1, edges: 3 },
  });
  try {
    const classify = obj.program('flow_in');
    const flush = obj.program('edge_cache_flush');
    const edges = obj.map('edges', edgeKeyCodec, edgeCountsCodec);
    const slots = obj.map('edge_slots', codec.u32, edgeSlotCodec);
    const state = obj.map('edge_cpu_state', codec.u32, edgeCacheStateCodec);
    const flushAll = (): number[] => cpus.map((cpu) => flush.testRun({ cpu }).retval);
    const totals = (): Map<string, { packets: number; bytes: number }> =>
      new Map(edges.perCpuEntries().map(([k, v]) => [`${formatAddr(k.family, k.peer)}:${k.port}`, { packets: v.reduce((n, c) => n + c.packets, 0), bytes: v.reduce((n, c) => n + c.bytes, 0) }]));
    const occupied = () => slots.perCpuEntries().flatMap(([, perCpu]) => perCpu).filter((s) => s.key.family !== 0);
    const a = udpFrame([10, 9, 0, 2], [10, 9, 0, 1], 40000, 9);
    const b = udpFrame([10, 9, 0, 3], [10, 9, 0, 1], 40001, 7);

    classify.testRun({ data: a, repeat: 1000 });
    assert.equal(edges.perCpuEntries().length, 0, 'nothing in the edge map before a flush');
    const held = occupied();
    assert.equal(held.length, 1, 'one slot holds the edge');
    assert.equal(held[0]!.packets, 1000);
    assert.equal(formatAddr(held[0]!.key.family, held[0]!.key.peer), '10.9.0.2');

    assert.deepEqual(flushAll(), cpus.map(() => ECF.ECF_DONE));
    assert.deepEqual(totals().get('10.9.0.2:9'), { packets: 1000, bytes: 1000 * a.length });
    assert.equal(occupied().length, 1, 'the edge keeps its slot while it has packets');
    flushAll();
    assert.equal(occupied().length, 0, 'a slot without packets since the last flush is freed');
    assert.deepEqual(totals().get('10.9.0.2:9'), { packets: 1000, bytes: 1000 * a.length }, 'freeing moves nothing twice');

    // A flush that lands while the classifier is counting (busy) does nothing and says so.
    classify.testRun({ data: a, repeat: 10 });
    state.set(0, { busy: 1, flushing: 0 });
    assert.deepEqual(flushAll(), cpus.map(() => ECF.ECF_BUSY));
    assert.equal(totals().get('10.9.0.2:9')!.packets, 1000);
    state.set(0, { busy: 0, flushing: 0 });
    flushAll();
    assert.equal(totals().get('10.9.0.2:9')!.packets, 1010);

    // The classifier interrupting a flush (flushing) counts straight into the edge map.
    state.set(0, { busy: 0, flushing: 1 });
    classify.testRun({ data: a, repeat: 5 });
    assert.equal(totals().get('10.9.0.2:9')!.packets, 1015, 'counted without a flush');
    assert.ok(occupied().every((sl) => sl.packets === 0), 'the slots were left alone');
    state.set(0, { busy: 0, flushing: 0 });

    // A full edge map: the new edge's counts wait in its slot, then move once there is room.
    const filler = (i: number): EdgeKey => ({ peer: Uint8Array.from([10, 99, 0, i, ...new Array<number>(12).fill(0)]), ifindex: 1, port: 1, family: 2, proto: 17, direction: 0, pad: new Uint8Array(3) });
    edges.set(filler(1), { packets: 0, bytes: 0, last_ns: 0 });
    edges.set(filler(2), { packets: 0, bytes: 0, last_ns: 0 });
    classify.testRun({ data: b, repeat: 7 });
    const r = flushAll();
    assert.ok(r.some((x) => (x & ECF.ECF_PENDING) !== 0), `a flush reports counts waiting (${r.join(', ')})`);
    assert.equal(totals().get('10.9.0.3:7'), undefined);
    edges.delete(filler(1));
    assert.deepEqual(flushAll(), cpus.map(() => ECF.ECF_DONE));
    assert.deepEqual(totals().get('10.9.0.3:7'), { packets: 7, bytes: 7 * b.length });
  } finally {
    obj.close();
  }
});

// trafgen's worker runs on CPU 0 (it pins itself), so veth delivers, and the classifier runs, there.
const placements = [
  { cpu: 0, how: "on the classifier's CPU (the flush runs in process context, where the classifier may interrupt it)" },
  { cpu: 1, how: 'on another CPU (the flush runs in an interrupt on the classifier\'s CPU)' },
];
for (const { cpu, how } of placements) {
  const skip = !haveTrafgen ? 'trafgen (netsniff-ng) is not installed' : !cpus.includes(cpu) ? `CPU ${cpu} is not online: this machine has ${cpus.length} CPU(s)` : false;
  test(`agent flushing every 100 ms ${how}: every packet of a full-rate stream counted`, { skip }, async () => {
    const link = createFlowLink();
    const agent = await startAgent(['--flow-interfaces', `^${link.host}$`, '--interval', '100ms', '--no-edge-table']);
    try {
      sh('taskset', ['-a', '-p', '-c', String(cpu), String(agent.proc.pid)]);
      await agent.waitFor((m) => m.sum('flowscope_agent_flow_interfaces') === 1, 5000, 'attached');
      const caps = await agent.json<{ flows: { flowMap: { edgeCache: { enabled: boolean; cpus: number } } } }>('/capabilities');
      assert.deepEqual(caps.flows.flowMap.edgeCache.enabled, true, JSON.stringify(caps.flows.flowMap.edgeCache));
      assert.equal(caps.flows.flowMap.edgeCache.cpus, cpus.length);
      const sel = { interface: link.host, direction: 'ingress' };
      const m0 = await agent.scrape();
      const before = ifCounters(link.host);
      const sent = trafgen(link, { count: 300_000, flows: 1, dport: 9 });
      const got = diff(before, ifCounters(link.host));
      const m = await agent.waitFor((m) => m.sum('flowscope_flow_packets_total', sel) - m0.sum('flowscope_flow_packets_total', sel) >= got.rx_packets, 5000, 'every packet counted');
      const retries = m.sum('flowscope_agent_edge_cache_flush_retries_total');
      console.log(`# trafgen ${sent.packets}, interface ${got.rx_packets}; flush retries ${retries}, deferred ${m.sum('flowscope_agent_edge_cache_flushes_deferred_total')}`);
      assert.equal(m.sum('flowscope_flow_packets_total', sel) - m0.sum('flowscope_flow_packets_total', sel), got.rx_packets, 'packets = interface rx_packets');
      assert.equal(m.sum('flowscope_flow_bytes_total', sel) - m0.sum('flowscope_flow_bytes_total', sel), got.rx_bytes, 'bytes = interface rx_bytes');
      assert.equal(m.sum('flowscope_flow_packets_total', { ...sel, protocol: 'udp', peer_addr: link.peerAddr, port: '9' }), sent.packets, 'the edge has every packet trafgen sent');
      assert.equal(m.sum('flowscope_agent_edge_cache_flush_errors_total'), 0);
      assert.equal(m.sum('flowscope_agent_edge_cache_pending_total'), 0);
    } finally {
      try {
        assert.equal(await agent.stop(), 0);
      } finally {
        link.destroy();
      }
    }
  });
}
