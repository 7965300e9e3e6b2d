// ICMP, ICMPv6 and TCP (IPv4 and IPv6) flows appear with the right protocol, peer, service port and
// TCP flags, against ping's own counts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import { startAgent, type RunningAgent } from '../support/agent.js';
import { sh } from '../support/run.js';
import { createFlowLink, flowRecords, type FlowLink } from './support.js';

let link: FlowLink;
let agent: RunningAgent;
let server: ChildProcess | undefined;

const FIN = 0x01;
const SYN = 0x02;
const PSH = 0x08;
const ACK = 0x10;

before(async () => {
  link = createFlowLink({ ipv6: true });
  agent = await startAgent(['--flow-interfaces', `^${link.host}$`, '--flow-idle-timeout', '1s', '--flows', 'ndjson']);
  await agent.waitFor((m) => m.sum('flowscope_agent_flow_interfaces') === 1, 5000, 'the classifier on the test interface');
});

after(async () => {
  server?.kill('SIGKILL');
  try {
    if (agent) assert.equal(await agent.stop(), 0);
  } finally {
    link?.destroy();
  }
});

async function waitRecords(pred: (r: ReturnType<typeof flowRecords>[number]) => boolean, n: number): Promise<ReturnType<typeof flowRecords>> {
  const deadline = Date.now() + 8000;
  for (;;) {
    const rs = flowRecords(agent.stdout()).filter(pred);
    if (rs.length >= n || Date.now() > deadline) return rs;
    await new Promise((r) => setTimeout(r, 200));
  }
}

for (const v of [4, 6] as const) {
  test(`ping over IPv${v}: 5 echo requests out, 5 replies in, as ${v === 4 ? 'icmp' : 'icmpv6'} flows`, async () => {
    const peer = v === 4 ? link.peerAddr : link.peerAddr6;
    const out = sh('ping', [`-${v}`, '-c', '5', '-i', '0.2', '-W', '2', peer]);
    assert.match(out, /5 packets transmitted, 5 received/, 'ping saw every reply');
    const proto = v === 4 ? 'icmp' : 'icmpv6';
    const sel = { interface: link.host, protocol: proto, peer_addr: peer };
    const m = await agent.waitFor((m) => m.sum('flowscope_flow_packets_total', { ...sel, direction: 'ingress' }) >= 5, 5000, 'the replies');
    assert.equal(m.sum('flowscope_flow_packets_total', { ...sel, direction: 'egress' }), 5);
    assert.equal(m.sum('flowscope_flow_packets_total', { ...sel, direction: 'ingress' }), 5);
    assert.equal(m.sum('flowscope_flow_bytes_total', { ...sel, direction: 'egress' }), 5 * (14 + (v === 4 ? 20 : 40) + 64), '5 frames of 64-byte ICMP messages');
    // Records: ICMP type/code in dport (echo request 8/128, reply 0/129).
    const [req, rep] = v === 4 ? [8, 0] : [128, 129];
    const recs = await waitRecords((r) => r.protocol === proto && (r.daddr === peer || r.saddr === peer) && (r.dport === req << 8 || r.dport === rep << 8), 2);
    assert.equal(recs.find((r) => r.direction === 'egress' && r.dport === req << 8)?.packets, 5);
    assert.equal(recs.find((r) => r.direction === 'ingress' && r.dport === rep << 8)?.packets, 5);
  });
}

test('TCP over IPv4 and IPv6: one edge per direction on the service port, with SYN, ACK, PSH and FIN seen', async () => {
  const script = `const net=require('net');let n=0;const s=net.createServer(c=>{c.on('data',d=>n+=d.length);c.on('end',()=>c.end())});s.listen(8080,'::',()=>console.log('ready'))`;
  server = spawn('ip', ['netns', 'exec', link.ns, process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    server!.stdout!.once('data', () => resolve());
    server!.once('exit', (c) => reject(new Error(`server exited ${c}`)));
  });
  for (const peer of [link.peerAddr, link.peerAddr6]) {
    await new Promise<void>((resolve, reject) => {
      const c = net.connect(8080, peer, () => c.end(Buffer.alloc(10_000, 1)));
      c.on('error', reject);
      c.on('close', () => resolve());
      c.resume();
    });
    const sel = { interface: link.host, protocol: 'tcp', peer_addr: peer, port: '8080' };
    const m = await agent.waitFor((m) => m.sum('flowscope_flow_bytes_total', { ...sel, direction: 'egress' }) > 10_000, 5000, `TCP to ${peer}`);
    assert.ok(m.sum('flowscope_flow_packets_total', { ...sel, direction: 'ingress' }) >= 3, 'SYN-ACK, ACKs and FIN came back');
    const recs = await waitRecords((r) => r.protocol === 'tcp' && (r.daddr === peer || r.saddr === peer), 2);
    const out = recs.find((r) => r.direction === 'egress' && r.dport === 8080);
    const back = recs.find((r) => r.direction === 'ingress' && r.sport === 8080);
    assert.ok(out && back, `records both ways for ${peer}`);
    assert.equal(out.tcp_flags & (SYN | ACK | PSH | FIN), SYN | ACK | PSH | FIN, `client flags 0x${out.tcp_flags.toString(16)}`);
    assert.equal(back.tcp_flags & (SYN | ACK | FIN), SYN | ACK | FIN, `server flags 0x${back.tcp_flags.toString(16)}`);
    assert.equal(out.family, peer.includes(':') ? 6 : 4);
    assert.ok(out.bytes > 10_000, 'the payload is in the bytes');
  }
});
