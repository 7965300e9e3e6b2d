// The edge table (bpf/include/flows.h, struct edge_entry): the kernel side driven packet by packet
// with BPF_PROG_TEST_RUN (claims, the per-CPU edge map as overflow, eviction in two runs, a freed
// slot in the middle of a probe chain), then the agent under waves of traffic from distinct peers
// over a veth between namespaces, with slots evicted and claimed again between the waves: its
// counts equal trafgen's and the interface's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { onlineCpus } from '../../src/bpf/features.js';
import { repoPath } from '../../src/lib/paths.js';
import { BpfObject, codec } from '../../src/bpf/index.js';
import { FLOWS_OBJECT } from '../../src/agent/flows/tracer.js';
import { formatAddr } from '../../src/model/addr.js';
import { EdgeEntryState as S, edgeCountsCodec, edgeEntryCodec, edgeKeyCodec, edgeRetireArgsCodec, type EdgeKey } from '../../src/bpf/gen/flows.gen.js';
import { startAgent } from '../support/agent.js';
import { onCpu } from '../support/pin.js';
import { commandExists } from '../support/run.js';
import { createFlowLink, diff, ifCounters, routePeers, trafgen, udpFrame } from './support.js';

const haveTrafgen = commandExists('trafgen');

/** The classifier's edge_hash (bpf/flows.bpf.c), to build keys that share a home slot. */
function edgeHash(k: EdgeKey): number {
  const b = Buffer.alloc(28);
  edgeKeyCodec.encode(k, new DataView(b.buffer), 0);
  const M = (1n << 64n) - 1n;
  const w = [b.readBigUInt64LE(0), b.readBigUInt64LE(8), b.readBigUInt64LE(16)];
  const tail = BigInt(b.readUInt32LE(24));
  const h = ((w[0]! * 0x9e3779b97f4a7c15n) & M) ^ ((w[1]! * 0xc2b2ae3d27d4eb4fn) & M) ^ ((w[2]! * 0x165667b19e3779f9n) & M) ^ ((tail * 0x27d4eb2f165667c5n) & M);
  return Number(((h >> 32n) ^ (h & 0xffffffffn)) & 0xffffffffn);
}

/** The hash of the edge's slot on `cpu` (edge_table_hash: a slot per edge and CPU). */
const tableHash = (k: EdgeKey, cpu: number): number => (edgeHash(k) + Math.imul(cpu, 0x9e3779b9)) >>> 0;

test('kernel side: new edges claim slots, a full probe window goes to the edge map, idle slots drain then free, a freed slot keeps the probe chain behind it', () => {
  const cpu = onlineCpus()[0]!;
  const obj = BpfObject.load(FLOWS_OBJECT, {
    programs: ['flow_in', 'edge_table_retire'],
    globals: { track_flows: 0, edge_cache: 0, enable_dns: 0, edge_table_mask: 7 },
    maxEntries: { flows: 1, edges: 64, edge_table: 8 },
  });
  try {
    onCpu(cpu, () => kernelSide(obj, cpu));
  } finally {
    obj.close();
  }
});

/** The first test's body, on `cpu`: every packet of it is classified there. */
function kernelSide(obj: BpfObject, cpu: number): void {
  {
    const classify = obj.program('flow_in');
    const retire = obj.program('edge_table_retire');
    const table = obj.map('edge_table', codec.u32, edgeEntryCodec);
    const edges = obj.map('edges', edgeKeyCodec, edgeCountsCodec);
    const args = obj.map('edge_retire', codec.u32, edgeRetireArgsCodec);
    let gen = 0;
    const runRetire = (idleNs: number) => {
      args.set(0, { gen: ++gen, idle_ns: idleNs, live: 0, drained: 0, freed: 0 });
      assert.equal(retire.testRun().retval, 0);
      return args.get(0)!;
    };
    const slots = () => table.entries().map(([i, e]) => ({ i, state: e.state, peer: formatAddr(e.key.family, e.key.peer), packets: e.packets, key: e.key }));
    const inTable = (peer: string, state: number = S.EES_LIVE) => slots().filter((s) => s.peer === peer && s.state === state);
    const inMap = (peer: string) => edges.perCpuEntries().filter(([k]) => formatAddr(k.family, k.peer) === peer).reduce((n, [, v]) => n + v.reduce((m, c) => m + c.packets, 0), 0);
    const send = (last: number, packets: number) => classify.testRun({ data: udpFrame([10, 9, 0, last], [10, 9, 0, 1], 40000, 9), repeat: packets });

    // Twelve peers in eight slots (the probe window is the whole table): eight claim a slot, four go to the edge map.
    for (let p = 2; p < 14; p++) send(p, 10);
    const live = slots().filter((s) => s.state === S.EES_LIVE);
    assert.equal(live.length, 8, 'every slot claimed');
    for (let p = 2; p < 14; p++) {
      const peer = `10.9.0.${p}`;
      assert.equal(inTable(peer).reduce((n, s) => n + s.packets, 0) + inMap(peer), 10, `${peer}: every packet once, in the table or the edge map`);
    }
    assert.equal(edges.perCpuEntries().length, 4, 'the four without a slot are in the edge map');
    // What the agent reads through the mapping is what a lookup of each slot returns.
    const mapped = table.readMapped(0, 8);
    for (const [i, e] of table.entries()) assert.deepEqual(edgeEntryCodec.decode(mapped, i * 64), e, `slot ${i} through the mapping`);

    // Idle (idle_ns 0): every slot drains; a packet of a draining edge does not land in its old slot.
    const r1 = runRetire(0);
    assert.deepEqual([r1.drained, r1.freed, r1.live], [8, 0, 0]);
    const drained = live[0]!.peer;
    send(Number(drained.split('.')[3]), 5);
    assert.equal(inTable(drained, S.EES_DRAINING)[0]!.packets, 10, 'a DRAINING slot keeps its last counts');
    assert.equal(inMap(drained), 5, 'no free slot: the packets go to the edge map');
    // The next run frees them (their last counts were read in between), and new edges claim them.
    const r2 = runRetire(60e9);
    assert.deepEqual([r2.drained, r2.freed], [0, 8]);
    assert.equal(slots().filter((s) => s.state === S.EES_FREE).length, 8);
    send(20, 3);
    assert.equal(inTable('10.9.0.20')[0]!.packets, 3, 'a freed slot is claimed again, counting from the claim');

    // A freed slot in the middle of a probe chain: B's home slot is A's, so B sits behind A; A is
    // evicted and freed; B's packets still find B's slot (the lookup goes on past a freed slot) and
    // no second slot is claimed for it; a third edge with that home takes the freed one.
    runRetire(0);
    runRetire(60e9); // everything free
    const template = slots()[0]!.key;
    const key = (last: number): EdgeKey => ({ ...template, family: 2, peer: Uint8Array.from([10, 9, 1, last, ...new Array(12).fill(0)]) }) as EdgeKey;
    const home = (last: number) => tableHash(key(last), cpu) & 7;
    const a = 2;
    const others = [...Array(250).keys()].map((i) => i + 3).filter((l) => home(l) === home(a));
    assert.ok(others.length >= 2, 'peers sharing a home slot');
    const [b, c] = others as [number, number];
    const sendPeer = (last: number, packets: number) => classify.testRun({ data: udpFrame([10, 9, 1, last], [10, 9, 0, 1], 40000, 9), repeat: packets });
    sendPeer(a, 4);
    const aSlot = inTable(`10.9.1.${a}`)[0]!;
    assert.equal(aSlot.i, home(a), "the classifier's hash is the one computed here");
    sendPeer(b, 4);
    const bSlot = inTable(`10.9.1.${b}`)[0]!;
    assert.notEqual(bSlot.i, aSlot.i, 'B behind A in the chain');
    // A idle, B not: drain A only, then free it.
    const slotOfA = aSlot.i;
    table.set(slotOfA, { ...table.get(slotOfA)!, last_ns: 1 });
    assert.equal(runRetire(10e9).drained, 1);
    runRetire(10e9);
    assert.equal(table.get(slotOfA)!.state, S.EES_FREE);
    sendPeer(b, 6);
    assert.deepEqual(
      inTable(`10.9.1.${b}`).map((s) => [s.i, s.packets]),
      [[bSlot.i, 10]],
      "B's packets found B's slot past the freed one",
    );
    sendPeer(c, 1);
    assert.equal(inTable(`10.9.1.${c}`)[0]!.i, slotOfA, 'a new edge with that home claims the freed slot');
    assert.ok(slots().every((s) => s.state !== S.EES_LIVE || table.get(s.i)!.cpu === cpu), 'every slot claimed here is this CPU\'s');
  }
}

test('one edge counted on two CPUs: a slot on each, where its hash on that CPU says, each holding that CPU\'s packets', { skip: onlineCpus().length < 2 && 'needs two CPUs' }, () => {
  const [cpuA, cpuB] = onlineCpus() as [number, number];
  const obj = BpfObject.load(FLOWS_OBJECT, {
    programs: ['flow_in'],
    globals: { track_flows: 0, edge_cache: 0, enable_dns: 0, edge_table_mask: 1023 },
    maxEntries: { flows: 1, edges: 64, edge_table: 1024 },
  });
  try {
    const classify = obj.program('flow_in');
    const table = obj.map('edge_table', codec.u32, edgeEntryCodec);
    const frame = udpFrame([10, 9, 3, 7], [10, 9, 0, 1], 40000, 9);
    onCpu(cpuA, () => classify.testRun({ data: frame, repeat: 5 }));
    onCpu(cpuB, () => classify.testRun({ data: frame, repeat: 3 }));
    onCpu(cpuA, () => classify.testRun({ data: frame, repeat: 2 }));
    const live = table.entries().filter(([, e]) => e.state === S.EES_LIVE);
    assert.deepEqual(
      live.map(([i, e]) => ({ i, cpu: e.cpu, packets: e.packets, peer: formatAddr(e.key.family, e.key.peer) })).sort((x, y) => x.cpu - y.cpu),
      [
        { i: tableHash(live[0]![1].key, cpuA) & 1023, cpu: cpuA, packets: 7, peer: '10.9.3.7' },
        { i: tableHash(live[0]![1].key, cpuB) & 1023, cpu: cpuB, packets: 3, peer: '10.9.3.7' },
      ].sort((x, y) => x.cpu - y.cpu),
    );
    assert.equal(live[0]![1].bytes + live[1]![1].bytes, 10 * (frame.length), 'bytes: every packet once');
  } finally {
    obj.close();
  }
});

test('two CPUs claiming the same new edges at once: every packet counted once, in the table or the edge map', { skip: onlineCpus().length < 2 && 'needs two CPUs' }, async (t) => {
  const [slots, peers, rounds] = [4096, 3000, 4];
  const owner = BpfObject.load(FLOWS_OBJECT, {
    programs: ['flow_in'],
    globals: { track_flows: 0, edge_cache: 0, enable_dns: 0, edge_table_mask: slots - 1 },
    maxEntries: { flows: 1, edges: 65536, edge_table: slots },
  });
  const tag = `${process.pid}-${Math.floor(Math.random() * 1e9)}`;
  const pins = { table: `/sys/fs/bpf/fs-edge-table-${tag}`, edges: `/sys/fs/bpf/fs-edges-${tag}` };
  try {
    owner.pinMap('edge_table', pins.table);
    owner.pinMap('edges', pins.edges);
    const startAt = Date.now() + 2000;
    const sender = repoPath('dist/test/flows/edge-table-sender.js');
    const run = (cpu: number): Promise<number> =>
      new Promise((resolve, reject) => {
        const p = spawn('taskset', ['-c', String(cpu), process.execPath, sender, pins.table, pins.edges, String(peers), String(rounds), String(slots), String(startAt)], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        p.stdout.on('data', (d: Buffer) => (out += d.toString()));
        p.stderr.on('data', (d: Buffer) => (err += d.toString()));
        p.once('close', (code) => (code === 0 ? resolve(Number(out.trim())) : reject(new Error(`sender on CPU ${cpu} exited ${code}: ${err}`))));
      });
    const cpus = onlineCpus();
    const sent = await Promise.all([run(cpus[0]!), run(cpus[1]!)]);
    assert.deepEqual(sent, [peers * rounds, peers * rounds]);
    const counted = new Map<string, number>();
    const slotsOf = new Map<string, number>();
    const add = (peer: string, n: number): void => void counted.set(peer, (counted.get(peer) ?? 0) + n);
    for (const [, e] of owner.map('edge_table', codec.u32, edgeEntryCodec).entries()) {
      if (e.state !== S.EES_LIVE) continue;
      const peer = formatAddr(e.key.family, e.key.peer);
      add(peer, e.packets);
      slotsOf.set(peer, (slotsOf.get(peer) ?? 0) + 1);
    }
    const inMap = owner.map('edges', edgeKeyCodec, edgeCountsCodec).perCpuEntries();
    for (const [k, v] of inMap) add(formatAddr(k.family, k.peer), v.reduce((n, c) => n + c.packets, 0));
    assert.equal(counted.size, peers, 'every peer counted');
    const wrong = [...counted].filter(([, n]) => n !== 2 * rounds);
    assert.deepEqual(wrong, [], 'every peer: each of its packets once');
    const twice = [...slotsOf.values()].filter((n) => n > 1).length;
    assert.ok([...slotsOf.values()].every((n) => n <= 2), 'at most a slot per CPU for a peer');
    t.diagnostic(`${slotsOf.size} peers in the table (${twice} with a slot on each CPU), ${inMap.length} in the edge map`);
  } finally {
    rmSync(pins.table, { force: true });
    rmSync(pins.edges, { force: true });
    owner.close();
  }
});

test('the agent under waves from distinct peers, slots evicted and claimed again between waves: counts = trafgen = interface', { skip: !haveTrafgen && 'trafgen (netsniff-ng) is not installed' }, async () => {
  const link = createFlowLink();
  const peers = routePeers(link);
  try {
    // 2,048 slots (twice --max-flows) for 2,500 peers: the table fills, its overflow goes to the
    // per-CPU edge map (1,024 entries).
    const agent = await startAgent(['--flow-interfaces', `^${link.host}$`, '--flow-idle-timeout', '1s', '--max-flows', '1024']);
    try {
      await agent.waitFor((m) => m.sum('flowscope_agent_flow_interfaces') === 1, 5000, 'attached');
      const caps = await agent.json<{ flows: { flowMap: { edgeTable: { enabled: boolean; slots: number }; edgeCache: { enabled: boolean; detail: string } } } }>('/capabilities');
      assert.deepEqual([caps.flows.flowMap.edgeTable.enabled, caps.flows.flowMap.edgeTable.slots], [true, 2048]);
      // The table's slots are per CPU: no cache in front of it (and no flush on every CPU).
      assert.equal(caps.flows.flowMap.edgeCache.enabled, false, caps.flows.flowMap.edgeCache.detail);
      assert.match(caps.flows.flowMap.edgeCache.detail, /edge table/);
      const sel = { interface: link.host, direction: 'ingress', protocol: 'udp', port: '19' };
      const m0 = await agent.scrape();
      const before = ifCounters(link.host);
      let sent = 0;
      let evicted = m0.sum('flowscope_agent_flows_evicted_total');
      for (const [wave, flows] of [[1, 2500], [2, 600], [3, 2500]] as const) {
        sent += trafgen(link, { count: flows * 3, flows, dport: 19, peers }).packets;
        // Idle for the timeout: the slots drain, then are freed a read later.
        const m = await agent.waitFor((m) => m.sum('flowscope_agent_flows_evicted_total') >= evicted + Math.min(flows, 2000), 10_000, `wave ${wave}'s edges to leave the table`);
        evicted = m.sum('flowscope_agent_flows_evicted_total');
      }
      const got = diff(before, ifCounters(link.host));
      const m = await agent.waitFor((m) => m.sum('flowscope_flow_packets_total', sel) - m0.sum('flowscope_flow_packets_total', sel) >= sent, 5000, 'every packet');
      assert.equal(sent, 3 * (2500 + 600 + 2500), 'trafgen sent them all');
      assert.equal(m.sum('flowscope_flow_packets_total', sel) - m0.sum('flowscope_flow_packets_total', sel), sent, 'packets = trafgen');
      const all = { interface: link.host, direction: 'ingress' };
      assert.equal(m.sum('flowscope_flow_packets_total', all) - m0.sum('flowscope_flow_packets_total', all), got.rx_packets, 'packets = interface rx_packets');
      assert.equal(m.sum('flowscope_flow_bytes_total', all) - m0.sum('flowscope_flow_bytes_total', all), got.rx_bytes, 'bytes = interface rx_bytes');
      assert.equal(m.sum('flowscope_agent_flow_spilled_packets_total'), 0, 'nothing spilled');
    } finally {
      assert.equal(await agent.stop(), 0, 'the agent exits cleanly');
    }
  } finally {
    peers.remove();
    link.destroy();
  }
});
