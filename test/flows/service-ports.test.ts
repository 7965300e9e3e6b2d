// UDP services on ports in the ephemeral range (where the port rule alone cannot tell the service's
// port from the client's): the classifier asks which local socket holds the port by bind(), so the
// datagrams carry the service port both ways; the ICMP errors a closed port answers with carry the
// port the datagrams were sent to, and so do the drops. Checked against the sender's own counts and
// the namespace's kernel counters (/proc/net/snmp: Udp NoPorts, Icmp OutDestUnreachs).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { spawn, type ChildProcess } from 'node:child_process';
import { startAgent, type RunningAgent } from '../support/agent.js';
import { sh, sleep } from '../support/run.js';
import { ephemeralRange } from '../../src/agent/edges/ports.js';
import { createFlowLink, type FlowLink } from './support.js';

let link: FlowLink;
let agent: RunningAgent;
let echo: ChildProcess | undefined;

/** A port in the ephemeral range, free in the namespace. */
function ephemeralPort(): number {
  const r = ephemeralRange();
  return r.low + 1000 + Math.floor(Math.random() * (r.high - r.low - 2000));
}

function snmp(ns: string, proto: string, field: string): number {
  const lines = sh('ip', ['netns', 'exec', ns, 'cat', '/proc/net/snmp']).split('\n').filter((l) => l.startsWith(`${proto}:`));
  return Number(lines[1]!.split(/\s+/)[lines[0]!.split(/\s+/).indexOf(field)]);
}

before(async () => {
  link = createFlowLink();
  // The agent in the namespace, as on a pod's host: the classifier on the namespace's end of the veth.
  agent = await startAgent(['--flow-interfaces', `^${link.peer}$`, '--no-dns'], 'agent', { netns: link.ns, host: link.peerAddr });
});

after(async () => {
  echo?.kill('SIGKILL');
  try {
    if (agent) assert.equal(await agent.stop(), 0);
  } finally {
    link?.destroy();
  }
});

async function send(port: number, n: number, onReply?: () => void): Promise<void> {
  const sock = dgram.createSocket('udp4'); // unbound: an ephemeral source port, like any client
  if (onReply) sock.on('message', onReply);
  for (let i = 0; i < n; i++) {
    await new Promise<void>((r, j) => sock.send(Buffer.alloc(64, i), port, link.peerAddr, (e) => (e ? j(e) : r())));
    if (i % 20 === 19) await sleep(5);
  }
  await sleep(300);
  sock.close();
}

test('UDP to a service bound on a port in the ephemeral range: both directions counted under that port, as many as the sender sent and got back', async () => {
  const port = ephemeralPort();
  const script = `const s=require('dgram').createSocket('udp4');s.on('message',(m,r)=>s.send(m,r.port,r.address));s.bind(${port},'${link.peerAddr}',()=>console.log('ready'))`;
  echo = spawn('ip', ['netns', 'exec', link.ns, process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    echo!.stdout!.once('data', () => resolve());
    echo!.once('exit', (c) => reject(new Error(`echo server exited ${c}`)));
  });
  const N = 200;
  let replies = 0;
  await send(port, N, () => replies++);
  assert.equal(replies, N, 'every datagram echoed');
  const sel = { interface: link.peer, protocol: 'udp', peer_addr: link.hostAddr, port: String(port) };
  const m = await agent.waitFor(
    (m) => m.sum('flowscope_flow_packets_total', { ...sel, direction: 'ingress' }) >= N && m.sum('flowscope_flow_packets_total', { ...sel, direction: 'egress' }) >= N,
    5000,
    `${N} datagrams each way under port ${port}`,
  );
  assert.equal(m.sum('flowscope_flow_packets_total', { ...sel, direction: 'ingress' }), N, 'datagrams in: what the sender sent');
  assert.equal(m.sum('flowscope_flow_packets_total', { ...sel, direction: 'egress' }), replies, 'datagrams out: what the sender got back');
  const zero = m.select('flowscope_flow_packets_total', { interface: link.peer, protocol: 'udp', peer_addr: link.hostAddr, port: '0' });
  assert.deepEqual(zero.map((s) => s.value), [], 'none without a service port');
});

test('UDP to a closed port in the ephemeral range: its drops and the ICMP errors it answers with carry that port, as many as the kernel counted', async () => {
  const port = ephemeralPort();
  const noPorts0 = snmp(link.ns, 'Udp', 'NoPorts');
  const unreach0 = snmp(link.ns, 'Icmp', 'OutDestUnreachs');
  const N = 40;
  await send(port, N);
  const noPorts = snmp(link.ns, 'Udp', 'NoPorts') - noPorts0;
  const unreach = snmp(link.ns, 'Icmp', 'OutDestUnreachs') - unreach0;
  assert.equal(noPorts, N, 'the namespace dropped each datagram (NoPorts)');
  assert.ok(unreach >= 1, 'and answered some with port unreachable (rate limited)');
  const p = String(port);
  const m = await agent.waitFor(
    (m) =>
      m.sum('flowscope_packet_drops_total', { reason: 'NO_SOCKET', protocol: 'udp', peer_addr: link.hostAddr, port: p }) >= N &&
      m.sum('flowscope_flow_packets_total', { interface: link.peer, protocol: 'icmp', direction: 'egress', peer_addr: link.hostAddr, port: p }) >= unreach,
    5000,
    'the drops and the ICMP errors under the closed port',
  );
  assert.equal(m.sum('flowscope_packet_drops_total', { reason: 'NO_SOCKET', protocol: 'udp', peer_addr: link.hostAddr, port: p }), N, 'each drop with the port it was sent to');
  assert.equal(m.sum('flowscope_flow_packets_total', { interface: link.peer, protocol: 'icmp', direction: 'egress', peer_addr: link.hostAddr, port: p }), unreach, 'each ICMP error matched to the port');
  assert.equal(m.sum('flowscope_flow_packets_total', { interface: link.peer, protocol: 'udp', direction: 'ingress', peer_addr: link.hostAddr, port: p }), 0, 'a closed port is no service: the datagrams in carry none');
});
