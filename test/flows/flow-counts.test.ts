// Packet and byte counts of the flow classifier against trafgen's own count and the interface's
// counters: exactly equal, in 1 flow and in 10,000 flows.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { BpfObject, codec } from '../../src/bpf/index.js';
import { testObject } from '../support/paths.js';
import { AttachCounter } from '../gen/attach.gen.js';
import { startAgent, type RunningAgent } from '../support/agent.js';
import { commandExists } from '../support/run.js';
import { createFlowLink, diff, flowRecords, ifCounters, trafgen, type FlowLink } from './support.js';

const haveTrafgen = commandExists('trafgen');
let link: FlowLink;
let agent: RunningAgent;

before(async () => {
  if (!haveTrafgen) return;
  link = createFlowLink();
  agent = await startAgent(['--flow-interfaces', `^${link.host}$`, '--flow-idle-timeout', '3s', '--flows', 'ndjson']);
  await agent.waitFor((m) => m.sum('flowscope_agent_flow_interfaces') === 1, 5000, 'the classifier on the test interface');
});

after(async () => {
  try {
    if (agent) assert.equal(await agent.stop(), 0, 'the agent exits cleanly');
  } finally {
    link?.destroy();
  }
});

for (const [flows, count, port] of [
  [1, 20_000, 9],
  [10_000, 30_000, 7],
] as const) {
  test(`${count} UDP packets in ${flows} flow(s): agent = interface counters = trafgen`, { skip: !haveTrafgen && 'trafgen (netsniff-ng) is not installed' }, async () => {
    const sel = { interface: link.host, direction: 'ingress' };
    const m0 = await agent.scrape();
    const base = { packets: m0.sum('flowscope_flow_packets_total', sel), bytes: m0.sum('flowscope_flow_bytes_total', sel) };
    const before = ifCounters(link.host);
    const peerBefore = ifCounters(link.peer, link.ns);
    const sent = trafgen(link, { count, flows, dport: port });
    const got = diff(before, ifCounters(link.host));
    const peerDropped = diff(peerBefore, ifCounters(link.peer, link.ns)).tx_dropped;
    console.log(`# trafgen ${sent.packets} packets/${sent.bytes} bytes; ${link.host} rx ${got.rx_packets}/${got.rx_bytes}; veth drops ${peerDropped}`);
    assert.equal(sent.packets, count);
    const m = await agent.waitFor((m) => m.sum('flowscope_flow_packets_total', sel) - base.packets >= got.rx_packets, 5000, 'the agent to count what the interface received');
    assert.equal(m.sum('flowscope_flow_packets_total', sel) - base.packets, got.rx_packets, 'packets = interface rx_packets');
    assert.equal(m.sum('flowscope_flow_bytes_total', sel) - base.bytes, got.rx_bytes, 'bytes = interface rx_bytes');
    const edge = { ...sel, protocol: 'udp', peer_addr: link.peerAddr, port: String(port) };
    if (peerDropped === 0) {
      assert.equal(m.sum('flowscope_flow_packets_total', edge), sent.packets, 'packets = trafgen');
      assert.equal(m.sum('flowscope_flow_bytes_total', edge), sent.bytes, 'bytes = trafgen');
    }
    const ports = new Set(m.select('flowscope_flow_packets_total', { ...sel, protocol: 'udp' }).map((s) => s.labels.port));
    assert.ok([...ports].every((p) => p === '9' || p === '7'), `the ephemeral source ports are no label (ports: ${[...ports].join(', ')})`);
    assert.equal(m.sum('flowscope_agent_flow_lost_total'), 0);
    // Each flow, after the idle timeout, as a record with its own exact count.
    const deadline = Date.now() + 10_000;
    let records: ReturnType<typeof flowRecords> = [];
    while (Date.now() < deadline) {
      records = flowRecords(agent.stdout()).filter((r) => r.dport === port && r.direction === 'ingress');
      if (records.length >= flows) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.equal(records.length, flows, 'one record per flow');
    if (peerDropped === 0) {
      const per = count / flows;
      assert.ok(records.every((r) => r.packets === per && r.bytes === per * 60), `every flow has ${per} packets of 60 bytes`);
      assert.equal(new Set(records.map((r) => r.sport)).size, flows);
    }
    const after = await agent.scrape();
    assert.ok(after.sum('flowscope_agent_flows_evicted_total') >= flows, 'idle flows leave the kernel map');
  });
}

test('headers in page fragments or linear, pulled on ingress or copied on egress: exact counts per flow, and pulled packets reach the application intact', { skip: !haveTrafgen && 'trafgen (netsniff-ng) is not installed' }, async () => {
  // trafgen's TX_RING makes skbs with only the MAC header in the linear area; sendto makes linear ones.
  const cases = [
    { from: 'host', sendto: false, direction: 'egress', dport: 21 },
    { from: 'host', sendto: true, direction: 'egress', dport: 22 },
    { from: 'peer', sendto: true, direction: 'ingress', dport: 23 },
  ] as const;
  for (const c of cases) {
    const sent = trafgen(link, { count: 2000, flows: 100, dport: c.dport, from: c.from, sendto: c.sendto });
    assert.equal(sent.packets, 2000);
    let records: ReturnType<typeof flowRecords> = [];
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      records = flowRecords(agent.stdout()).filter((r) => r.dport === c.dport && r.direction === c.direction);
      if (records.length >= 100) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    const what = `${c.direction}, ${c.sendto ? 'sendto' : 'TX_RING'}`;
    assert.equal(records.length, 100, `${what}: one record per flow`);
    assert.ok(records.every((r) => r.packets === 20 && r.bytes === 20 * 60 && r.protocol === 'udp'), `${what}: every flow has 20 packets of 60 bytes`);
    assert.equal(new Set(records.map((r) => r.sport)).size, 100, `${what}: 100 source ports read from the packets`);
  }
  // Pulled on ingress (TX_RING from the namespace): a TC program after ours that reads headers in
  // place (clsact runs after tcx) finds them in the linear area (without the pull it sees none of
  // these packets), and an application still gets every datagram, unchanged.
  const after = BpfObject.load(testObject('attach'), { programs: ['count_tc'], globals: { targ_port: 24 } });
  const afterLink = after.program('count_tc').attachTc({ interface: link.host, direction: 'ingress', mode: 'legacy' });
  const sock = createSocket('udp4');
  const got: Buffer[] = [];
  sock.on('message', (m) => got.push(m));
  await new Promise<void>((r) => sock.bind(24, link.hostAddr, r));
  try {
    trafgen(link, { count: 100, flows: 1, dport: 24, fill: 0xab });
    const deadline = Date.now() + 5000;
    while (got.length < 100 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal(got.length, 100, 'every datagram reached the socket (UDP checksums held)');
    assert.ok(got.every((m) => m.length === 18 && m.every((b) => b === 0xab)), 'payloads unchanged');
    assert.equal(after.map('counters', codec.u32, codec.u64).get(AttachCounter.COUNT_TC), 100, 'the next program read all 100 packets in place');
  } finally {
    sock.close();
    afterLink.destroy();
    after.close();
  }
});

test('a full flow map spills to the ring buffer: counts stay exact, and the spill is counted', { skip: !haveTrafgen && 'trafgen (netsniff-ng) is not installed' }, async () => {
  // Flow records on: the kernel counts per flow (without records it counts per edge, see below).
  const small = await startAgent(['--flow-interfaces', `^${link.host}$`, '--max-flows', '1000', '--flow-idle-timeout', '60s', '--flows', 'ndjson']);
  try {
    await small.waitFor((m) => m.sum('flowscope_agent_flow_interfaces') === 1, 5000, 'attached');
    const sel = { interface: link.host, direction: 'ingress' };
    const m0 = await small.scrape();
    const before = ifCounters(link.host);
    trafgen(link, { count: 20_000, flows: 5000, dport: 11 });
    const got = diff(before, ifCounters(link.host));
    const m = await small.waitFor((m) => m.sum('flowscope_flow_packets_total', sel) - m0.sum('flowscope_flow_packets_total', sel) >= got.rx_packets - m.sum('flowscope_agent_flow_lost_total'), 5000, 'all packets');
    const counted = m.sum('flowscope_flow_packets_total', sel) - m0.sum('flowscope_flow_packets_total', sel);
    const lost = m.sum('flowscope_agent_flow_lost_total', { source: 'spill_ring' });
    const spilled = m.sum('flowscope_agent_flow_spilled_packets_total');
    console.log(`# rx ${got.rx_packets}, counted ${counted}, spilled ${spilled}, lost ${lost}, flows ${m.sum('flowscope_agent_flows')}`);
    assert.ok(spilled > 10_000, 'most packets went through the spill ring');
    assert.equal(counted + lost, got.rx_packets, 'counted + lost (counted as lost) = received: never silently lost');
    assert.equal(lost, 0, 'the spill ring kept up at this rate');
    assert.equal(m.sum('flowscope_flow_bytes_total', sel) - m0.sum('flowscope_flow_bytes_total', sel), got.rx_bytes);
  } finally {
    assert.equal(await small.stop(), 0);
  }
});

test('a filling flow map shortens the idle timeout: flows leave in seconds, not after the 60 s timeout', { skip: !haveTrafgen && 'trafgen (netsniff-ng) is not installed' }, async () => {
  const small = await startAgent(['--flow-interfaces', `^${link.host}$`, '--max-flows', '1000', '--flow-idle-timeout', '60s', '--flows', 'ndjson']);
  try {
    await small.waitFor((m) => m.sum('flowscope_agent_flow_interfaces') === 1, 5000, 'attached');
    const sent = trafgen(link, { count: 800, flows: 800, dport: 13 });
    assert.equal(sent.packets, 800);
    // 800 flows in a map of 1,000 (over three quarters full): they leave after 0.5 s idle, each with
    // its own record, and the pressure is counted.
    const m = await small.waitFor((m) => m.sum('flowscope_agent_flows_evicted_total') >= 800, 8000, 'the flows to leave the map under pressure');
    assert.ok(m.sum('flowscope_agent_flow_map_pressure_intervals_total') >= 1, 'pressure counted');
    let records: ReturnType<typeof flowRecords> = [];
    for (const deadline = Date.now() + 3000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
      records = flowRecords(small.stdout()).filter((r) => r.dport === 13 && r.direction === 'ingress');
      if (records.length >= 800) break;
    }
    assert.equal(records.length, 800, `one record per flow (evicted ${m.sum('flowscope_agent_flows_evicted_total')})`);
    assert.equal(records.reduce((a, r) => a + r.packets, 0), 800, 'every packet in a record');
    assert.match(small.stderr(), /flow map is filling up/, 'the agent says why flows leave early');
    const after = await small.scrape();
    assert.equal(after.sum('flowscope_agent_flow_spilled_packets_total'), 0, 'nothing had to go through the spill ring');
  } finally {
    assert.equal(await small.stop(), 0);
  }
});

test('without flow records the kernel counts per edge: 10,000 flows are one edge entry, counts exact', { skip: !haveTrafgen && 'trafgen (netsniff-ng) is not installed' }, async () => {
  const edges = await startAgent(['--flow-interfaces', `^${link.host}$`]);
  try {
    await edges.waitFor((m) => m.sum('flowscope_agent_flow_interfaces') === 1, 5000, 'attached');
    const caps = await edges.json<{ flows: { flowMap: { counting: string } } }>('/capabilities');
    assert.match(caps.flows.flowMap.counting, /per edge/);
    const sel = { interface: link.host, direction: 'ingress' };
    const m0 = await edges.scrape();
    const before = ifCounters(link.host);
    const sent = trafgen(link, { count: 30_000, flows: 10_000, dport: 17 });
    const got = diff(before, ifCounters(link.host));
    const edge = { ...sel, protocol: 'udp', peer_addr: link.peerAddr, port: '17' };
    const m = await edges.waitFor((m) => m.sum('flowscope_flow_packets_total', sel) - m0.sum('flowscope_flow_packets_total', sel) >= got.rx_packets, 5000, 'all packets');
    assert.equal(m.sum('flowscope_flow_packets_total', sel) - m0.sum('flowscope_flow_packets_total', sel), got.rx_packets, 'packets = interface rx_packets');
    assert.equal(m.sum('flowscope_flow_bytes_total', sel) - m0.sum('flowscope_flow_bytes_total', sel), got.rx_bytes, 'bytes = interface rx_bytes');
    assert.equal(m.sum('flowscope_flow_packets_total', edge), sent.packets, 'the edge has every packet trafgen sent');
    assert.equal(m.sum('flowscope_agent_flows'), 0, 'no flow followed');
    assert.ok(m.sum('flowscope_agent_flow_edge_entries') <= 10, `a handful of edge entries, not 10,000 (${m.sum('flowscope_agent_flow_edge_entries')})`);
    assert.equal(m.sum('flowscope_agent_flow_spilled_packets_total'), 0);
  } finally {
    assert.equal(await edges.stop(), 0);
  }
});
