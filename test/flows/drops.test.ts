// Drops the test causes on purpose are counted with the kernel's own reason, against the kernel's
// own counters: UDP to a closed port (NO_SOCKET, /proc/net/snmp NoPorts), an iptables DROP rule in
// a namespace (NETFILTER_DROP, the rule's packet counter), a full socket receive queue
// (SOCKET_RCVBUFF, the socket's drops in /proc/net/udp).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { spawn } from 'node:child_process';
import { startAgent, type RunningAgent } from '../support/agent.js';
import { commandExists, sh } from '../support/run.js';
import { compileC } from '../support/cbin.js';
import { createFlowLink, routePeers, trafgen, type FlowLink } from './support.js';

const haveTrafgen = commandExists('trafgen');
const haveIptables = commandExists('iptables');
let link: FlowLink;
let agent: RunningAgent;

before(async () => {
  link = createFlowLink();
  agent = await startAgent(['--flow-interfaces', `^${link.host}$`]);
});

after(async () => {
  try {
    if (agent) assert.equal(await agent.stop(), 0);
  } finally {
    link?.destroy();
  }
});

function snmp(proto: string, field: string, ns?: string): number {
  const text = ns ? sh('ip', ['netns', 'exec', ns, 'cat', '/proc/net/snmp']) : sh('cat', ['/proc/net/snmp']);
  const lines = text.split('\n').filter((l) => l.startsWith(`${proto}:`));
  return Number(lines[1]!.split(/\s+/)[lines[0]!.split(/\s+/).indexOf(field)]);
}

function drops(m: Awaited<ReturnType<RunningAgent['scrape']>>, reason: string, peer: string, port: number): number {
  return m.sum('flowscope_packet_drops_total', { reason, protocol: 'udp', peer_addr: peer, port: String(port), direction: 'received' });
}

test('UDP to a closed port: NO_SOCKET, as many as the kernel counted in NoPorts', { skip: !haveTrafgen && 'trafgen (netsniff-ng) is not installed' }, async () => {
  const port = 20000 + Math.floor(Math.random() * 5000);
  const before = snmp('Udp', 'NoPorts');
  const sent = trafgen(link, { count: 50, flows: 1, dport: port });
  const noPorts = snmp('Udp', 'NoPorts') - before;
  assert.equal(sent.packets, 50);
  assert.ok(noPorts >= 50, `the kernel counted ${noPorts} NoPorts`);
  const m = await agent.waitFor((m) => drops(m, 'NO_SOCKET', link.peerAddr, port) >= 50, 5000, 'NO_SOCKET drops');
  assert.equal(drops(m, 'NO_SOCKET', link.peerAddr, port), 50, 'each packet once, with its peer and port');
});

/** Packets of the kernel drop map entries (every map named "drops": the agent's) for drops from `peer` to `port`. */
function kernelDropEntry(peer: string, port: number): number | undefined {
  const maps = JSON.parse(sh('bpftool', ['map', 'show', '-j'])) as Array<{ id: number; name?: string }>;
  const saddr = peer.split('.').map((b) => Number(b));
  for (const m of maps.filter((m) => m.name === 'drops')) {
    const entries = JSON.parse(sh('bpftool', ['map', 'dump', 'id', String(m.id), '-j'])) as Array<{ key: string[]; values: Array<{ value: string[] }> }>;
    for (const e of entries) {
      const key = e.key.map((h) => parseInt(h, 16));
      if (saddr.some((b, i) => key[i] !== b) || (key[32]! | (key[33]! << 8)) !== port) continue;
      // drop_counts: packets, the first 8 bytes of each CPU's value.
      return e.values.reduce((n, v) => n + v.value.slice(0, 8).reduce((x, h, i) => x + parseInt(h, 16) * 2 ** (8 * i), 0), 0);
    }
  }
  return undefined;
}

test('a drop map entry is read in place: kept while it grows, credited by its growth, taken out two intervals after it stops with nothing lost', { skip: !haveTrafgen && 'trafgen (netsniff-ng) is not installed' }, async () => {
  const port = 25000 + Math.floor(Math.random() * 5000);
  const count = (m: Awaited<ReturnType<RunningAgent['scrape']>>): number => drops(m, 'NO_SOCKET', link.peerAddr, port);
  assert.equal(trafgen(link, { count: 20, flows: 1, dport: port }).packets, 20);
  await agent.waitFor((m) => count(m) >= 20, 5000, 'the first 20 drops');
  // Read by the agent, yet still in the kernel map with its counts (a drained map would be empty here).
  assert.equal(kernelDropEntry(link.peerAddr, port), 20, 'the entry stays in the kernel map after the read');
  assert.equal(trafgen(link, { count: 30, flows: 1, dport: port }).packets, 30);
  await agent.waitFor((m) => count(m) >= 50, 5000, '50 drops');
  assert.equal(kernelDropEntry(link.peerAddr, port), 50, 'the same entry, grown in place');
  // Idle now: taken out after two reads without growth.
  const deadline = Date.now() + 8000;
  while (kernelDropEntry(link.peerAddr, port) !== undefined) {
    assert.ok(Date.now() < deadline, 'the idle entry left the kernel map');
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.equal(trafgen(link, { count: 7, flows: 1, dport: port }).packets, 7);
  const m = await agent.waitFor((m) => count(m) >= 57, 5000, '57 drops');
  await new Promise((r) => setTimeout(r, 1200)); // one more read: nothing counted twice
  assert.equal(count(await agent.scrape()), 57, 'each drop once: growth credited, nothing lost or doubled by the eviction');
  assert.ok(m.sum('flowscope_agent_drop_entries_evicted_total') >= 1, 'the eviction is counted');
});

test('UDP over IPv6 to a closed port: NO_SOCKET with the sender and the port it tried, as many as Udp6NoPorts', async () => {
  const port = 30000 + Math.floor(Math.random() * 2000);
  const snmp6 = (): number => Number(/Udp6NoPorts\s+(\d+)/.exec(sh('cat', ['/proc/net/snmp6']))![1]);
  const before = snmp6();
  const sock = dgram.createSocket('udp6');
  try {
    for (let i = 0; i < 9; i++) await new Promise<void>((resolve, reject) => sock.send(Buffer.from('x'), port, '::1', (err) => (err ? reject(err) : resolve())));
  } finally {
    sock.close();
  }
  assert.ok(snmp6() - before >= 9, 'the kernel counted them as Udp6NoPorts');
  const m = await agent.waitFor((m) => drops(m, 'NO_SOCKET', '::1', port) >= 9, 5000, 'IPv6 NO_SOCKET drops');
  assert.equal(drops(m, 'NO_SOCKET', '::1', port), 9, 'each datagram once, with its sender and port');
});

test('an iptables DROP rule in a namespace: NETFILTER_DROP, as many as the rule matched', { skip: !haveIptables && 'iptables is not installed' }, async () => {
  const port = 25000 + Math.floor(Math.random() * 5000);
  link.exec('iptables', ['-w', '-A', 'INPUT', '-p', 'udp', '--dport', String(port), '-j', 'DROP']);
  // The rule lives in the test namespace and goes with it.
  const sock = dgram.createSocket('udp4');
  for (let i = 0; i < 20; i++) await new Promise<void>((r, j) => sock.send(Buffer.alloc(32), port, link.peerAddr, (e) => (e ? j(e) : r())));
  sock.close();
  const rule = link.exec('iptables', ['-w', '-L', 'INPUT', '-v', '-x', '-n']).split('\n').find((l) => l.includes(`dpt:${port}`))!;
  const matched = Number(rule.trim().split(/\s+/)[0]);
  assert.equal(matched, 20, 'the rule dropped all 20');
  const m = await agent.waitFor((m) => drops(m, 'NETFILTER_DROP', link.hostAddr, port) >= 20, 5000, 'NETFILTER_DROP drops');
  assert.equal(drops(m, 'NETFILTER_DROP', link.hostAddr, port), matched);
});

const RECEIVER = `
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>
int main(int argc, char **argv) {
  int s = socket(AF_INET, SOCK_DGRAM, 0), sz = 1;
  setsockopt(s, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz)); /* the kernel's minimum */
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[2])) };
  inet_pton(AF_INET, argv[1], &a.sin_addr);
  if (bind(s, (struct sockaddr *)&a, sizeof(a))) { perror("bind"); return 1; }
  printf("ready\\n"); fflush(stdout);
  pause(); /* never reads */
  return 0;
}`;

test('a full socket receive queue: SOCKET_RCVBUFF, as many as the socket\'s own drop counter', { skip: !haveTrafgen && 'trafgen (netsniff-ng) is not installed' }, async () => {
  const port = 30000 + Math.floor(Math.random() * 2000);
  const bin = compileC('fs-rcvbuf', RECEIVER);
  const rx = spawn(bin, [link.hostAddr, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((resolve, reject) => {
      rx.stdout!.once('data', () => resolve());
      rx.once('exit', (c) => reject(new Error(`receiver exited ${c}`)));
    });
    trafgen(link, { count: 300, flows: 1, dport: port, gapUs: 20 });
    const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
    const line = sh('cat', ['/proc/net/udp']).split('\n').find((l) => l.includes(`:${hexPort} `))!;
    const socketDrops = Number(line.trim().split(/\s+/).at(-1));
    assert.ok(socketDrops > 0, 'the receive queue overflowed');
    const m = await agent.waitFor((m) => drops(m, 'SOCKET_RCVBUFF', link.peerAddr, port) >= socketDrops, 5000, 'SOCKET_RCVBUFF drops');
    assert.equal(drops(m, 'SOCKET_RCVBUFF', link.peerAddr, port), socketDrops);
  } finally {
    rx.kill('SIGKILL');
  }
});

test('a flood of distinct drops overflows the drop map within an interval: every drop still counted, by reason', { skip: !haveTrafgen && 'trafgen (netsniff-ng) is not installed' }, async () => {
  const port = 33000 + Math.floor(Math.random() * 2000);
  const p = String(port);
  const peers = routePeers(link);
  // Its own agent, with room for every peer's series: what lands under peer_addr="other" is then
  // only what the kernel counted without addresses (the drop table's own roll-ups go there too).
  const agent = await startAgent(['--flow-interfaces', `^${link.host}$`, '--max-series', '100000']);
  const udpReceived = (m: Awaited<ReturnType<RunningAgent['scrape']>>, peer?: string): number =>
    m.sum('flowscope_packet_drops_total', { reason: 'NO_SOCKET', protocol: 'udp', ...(peer ? { peer_addr: peer } : {}), port: p, direction: 'received' });
  // The kernel's drop map has no room for them (overflow slots carry no addresses nor ports).
  const overflowed = (m: Awaited<ReturnType<RunningAgent['scrape']>>): number =>
    m.sum('flowscope_packet_drops_total', { reason: 'NO_SOCKET', protocol: 'udp', peer_addr: 'other', port: '0', direction: 'received' });
  try {
    const m0 = await agent.scrape();
    // Every drop the kernel counted without addresses, this flood's and whatever else the node dropped meanwhile.
    const withoutAddresses = (m: Awaited<ReturnType<RunningAgent['scrape']>>): number => m.sum('flowscope_packet_drops_total', { peer_addr: 'other' });
    const before = { other: overflowed(m0), all: withoutAddresses(m0), overflow: m0.sum('flowscope_agent_drops_without_addresses_total') };
    const noPorts0 = snmp('Udp', 'NoPorts');
    // 40,000 peers in one burst (~0.1 s): far more distinct drops (edges) than the 16,384-entry map holds.
    const sent = trafgen(link, { count: 40_000, flows: 40_000, dport: port, peers });
    assert.equal(sent.packets, 40_000);
    assert.ok(snmp('Udp', 'NoPorts') - noPorts0 >= 40_000, 'the kernel counted every packet as NoPorts');
    // With their addresses (each peer its own edge, or past the series cap under peer_addr="other" with
    // their port), or without (the map was full).
    const total = (m: Awaited<ReturnType<RunningAgent['scrape']>>): number => udpReceived(m) + overflowed(m) - before.other;
    const m = await agent.waitFor((m) => total(m) >= 40_000, 10_000, 'all NO_SOCKET drops');
    assert.equal(total(m), 40_000, 'each drop once: with its addresses while the map had room, by reason only after');
    const overflow = m.sum('flowscope_agent_drops_without_addresses_total') - before.overflow;
    assert.ok(overflow > 0, 'the drop map overflowed (else this test proves nothing)');
    assert.ok(overflowed(m) - before.other > 0, "some of the flood's drops came without addresses");
    const m2 = await agent.waitFor((m) => withoutAddresses(m) - before.all >= m.sum('flowscope_agent_drops_without_addresses_total') - before.overflow, 3000, 'the overflow credited');
    assert.equal(withoutAddresses(m2) - before.all, m2.sum('flowscope_agent_drops_without_addresses_total') - before.overflow, 'the overflow is what went under peer_addr="other"');
    assert.equal(m.sum('flowscope_agent_flow_lost_total'), 0, 'nothing lost');
  } finally {
    peers.remove();
    await agent.stop();
  }
});
