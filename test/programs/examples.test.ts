// Each example in examples/programs/ compiled, loaded by `flowscope exporter`, fed activity this test
// makes, and its metrics compared with what was made (exact where the activity is deterministic) or
// with the kernel's own counters.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, rmdirSync, writeFileSync, existsSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { features } from '../../src/bpf/index.js';
import { createNamespacePair, createVethNamespace, retransSegs, retransFailed } from '../support/netns.js';
import { sh, runCommand, sleep } from '../support/run.js';
import { tcpload, startServer, runClient } from '../support/tcpload.js';
import { exampleConfig, scratch, startExporter, startWriter } from './support.js';

test('writes_by_process: N write(2) calls from a known process give N for its pid and name', async () => {
  const s = scratch();
  const name = `fswr${randomBytes(3).toString('hex')}`;
  const writer = startWriter(name, 37);
  const exporter = await startExporter([exampleConfig(s.dir, 'writes_by_process')]);
  try {
    writer.go();
    const match = { pid: String(writer.pid), comm: name };
    const m = await exporter.waitFor((m) => m.sum('write_syscalls_total', match) >= 37, 10_000, 'the writer\'s 37 writes');
    assert.equal(m.sum('write_syscalls_total', match), 37);
    await sleep(300);
    assert.equal((await exporter.scrape()).sum('write_syscalls_total', match), 37, 'no write counted twice');
  } finally {
    await writer.stop();
    await exporter.stop();
    s.cleanup();
  }
});

test('packets_by_protocol: ICMP and UDP packets sent into a veth are counted per protocol at TC ingress', async () => {
  const s = scratch();
  const link = createVethNamespace();
  const exporter = await startExporter([exampleConfig(s.dir, 'packets_by_protocol', [['interface: eth0', `interface: ${link.host}`]])]);
  try {
    const caps = await exporter.json<{ programs: Array<{ attached: Array<{ target: string }> }> }>('/capabilities');
    assert.equal(caps.programs[0]?.attached[0]?.target, `tc ${link.host} ingress`);
    link.exec('ping', ['-c', '5', '-i', '0.05', '-W', '1', link.hostAddr]);
    link.exec('bash', ['-c', `for i in $(seq 7); do echo x > /dev/udp/${link.hostAddr}/9; done`]);
    const m = await exporter.waitFor((m) => m.sum('packets_total', { protocol: 'icmp' }) >= 5 && m.sum('packets_total', { protocol: 'udp' }) >= 7, 10_000, '5 ICMP and 7 UDP packets');
    assert.equal(m.sum('packets_total', { protocol: 'icmp' }), 5);
    assert.equal(m.sum('packets_total', { protocol: 'udp' }), 7);
    assert.equal(m.sum('packets_total', { protocol: 'tcp' }), 0);
  } finally {
    await exporter.stop();
    link.destroy();
    s.cleanup();
  }
});

test("packets_by_protocol_socket: a socket filter on a veth counts ICMP both ways (as the namespace's own counters say) and UDP per protocol", async () => {
  const s = scratch();
  const link = createVethNamespace();
  const exporter = await startExporter([exampleConfig(s.dir, 'packets_by_protocol_socket', [['interface: eth0', `interface: ${link.host}`]])]);
  try {
    const caps = await exporter.json<{ programs: Array<{ attached: Array<{ target: string }> }> }>('/capabilities');
    assert.equal(caps.programs[0]?.attached[0]?.target, `socket ${link.host}`);
    link.exec('ping', ['-c', '5', '-i', '0.05', '-W', '1', link.hostAddr]);
    link.exec('bash', ['-c', `for i in $(seq 7); do echo x > /dev/udp/${link.hostAddr}/9; done`]);
    const m = await exporter.waitFor((m) => m.sum('socket_packets_total', { protocol: 'icmp' }) >= 10 && m.sum('socket_packets_total', { protocol: 'udp' }) >= 7, 10_000, '10 ICMP and 7 UDP packets');
    // A packet socket sees both directions: echo requests in, replies out, and the (rate-limited)
    // port-unreachables answering the UDP datagrams. The namespace's own ICMP counters say how many
    // crossed the link: it is fresh, so they count exactly this traffic.
    const snmp = link.exec('cat', ['/proc/net/snmp']).split('\n').filter((l) => l.startsWith('Icmp:'));
    const icmp = Object.fromEntries(snmp[0]!.split(/\s+/).slice(1).map((k, i) => [k, Number(snmp[1]!.split(/\s+/)[i + 1])]));
    const crossed = icmp.InMsgs! + icmp.OutMsgs!;
    assert.ok(crossed >= 10, `ICMP messages over the link: ${crossed}`);
    await exporter.waitFor((m) => m.sum('socket_packets_total', { protocol: 'icmp' }) === crossed, 3000, `${crossed} ICMP packets`);
    assert.equal(m.sum('socket_packets_total', { protocol: 'udp' }), 7);
    assert.equal(m.sum('socket_packets_total', { protocol: 'tcp' }), 0);
  } finally {
    await exporter.stop();
    link.destroy();
    s.cleanup();
  }
});

test('block_io_latency: N direct 4 KiB writes to a loop device give N in its latency and size histograms', async () => {
  const s = scratch();
  const backing = join(s.dir, 'disk.img');
  writeFileSync(backing, '');
  truncateSync(backing, 16 << 20);
  const dev = sh('losetup', ['-f', '--show', backing]).trim();
  const name = dev.replace('/dev/', '');
  const exporter = await startExporter([exampleConfig(s.dir, 'block_io_latency')]);
  try {
    const n = 25;
    sh('dd', ['if=/dev/zero', `of=${dev}`, 'bs=4096', `count=${n}`, 'oflag=direct']);
    const match = { device: name, operation: 'write' };
    const m = await exporter.waitFor((m) => m.sum('block_io_latency_seconds_count', match) >= n, 10_000, `${n} writes on ${name}`);
    assert.equal(m.sum('block_io_latency_seconds_count', match), n);
    assert.ok(m.sum('block_io_latency_seconds_sum', match) > 0, 'latencies add up to more than zero');
    assert.equal(m.sum('block_io_size_bytes_bucket', { ...match, le: '4096' }), n, 'every request in the 4 KiB bucket');
    assert.equal(m.sum('block_io_size_bytes_sum', match), n * 4096);
    assert.equal(m.sum('block_io_size_bytes_count', match), n);
    const q = m.quantile(0.5, 'block_io_latency_seconds', match);
    assert.ok(q > 0 && q < 1, `median latency ${q}s is plausible`);
  } finally {
    await exporter.stop();
    sh('losetup', ['-d', dev], { allowFail: true });
    s.cleanup();
  }
});

test('tcp_retransmits: segments retransmitted to a lossy peer match the kernel RetransSegs counter', async () => {
  const s = scratch();
  const pair = createNamespacePair();
  const port = 20000 + Math.floor(Math.random() * 20000);
  // Every 5th TCP packet arriving at B's port is dropped: A retransmits.
  pair.exec(pair.b.ns, 'iptables', ['-A', 'INPUT', '-p', 'tcp', '--dport', String(port), '-m', 'statistic', '--mode', 'nth', '--every', '5', '--packet', '0', '-j', 'DROP']);
  const exporter = await startExporter([exampleConfig(s.dir, 'tcp_retransmits')]);
  const bin = tcpload('fsretrans');
  const server = await startServer(bin, pair.b.addr, port, { netns: pair.b.ns });
  let serverStopped = false;
  try {
    const before = retransSegs(pair.a.ns);
    const failedBefore = retransFailed(pair.a.ns);
    const r = await runClient(bin, ['client', pair.b.addr, String(port), '10', '100000'], pair.a.ns);
    assert.equal(r.code, 0, r.stderr);
    serverStopped = true;
    await server.stop();
    await sleep(500);
    // RetransSegs counts a retransmission before it is handed to the device; the tracepoint fires
    // only once the device took it. Under load a veth can refuse some (TCPRetransFail).
    const failed = retransFailed(pair.a.ns) - failedBefore;
    const kernel = retransSegs(pair.a.ns) - before - failed;
    console.log(`# RetransSegs delta ${kernel + failed}, of which the device refused ${failed}`);
    assert.ok(kernel > 0, 'the drops caused retransmissions');
    // A retransmission from a timer can interrupt one in process context on the same CPU: the kernel
    // then skips the program's run and counts it as a recursion miss, which the exporter reports.
    // Those are the only segments allowed to be missing. On a timeout the assertions show both numbers.
    const misses = (m: Awaited<ReturnType<typeof exporter.scrape>>): number => m.sum('flowscope_bpf_run_misses_total', { component: 'program', set: 'tcp_retransmits' });
    const m = await exporter.waitFor((m) => m.sum('tcp_retransmitted_segments_total', { remote_addr: pair.b.addr }) + misses(m) >= kernel, 10_000, `${kernel} retransmitted segments`).catch(() => exporter.scrape());
    const missed = misses(m);
    console.log(`# program runs the kernel skipped (recursion): ${missed}`);
    // (A miss may belong to another connection of the host: so counted <= kernel <= counted + missed.)
    const matches: Array<Record<string, string>> = [{ remote_addr: pair.b.addr }, { remote_addr: pair.b.addr, remote_port: String(port) }];
    for (const match of matches) {
      const counted = m.sum('tcp_retransmitted_segments_total', match);
      const all = m.select('tcp_retransmitted_segments_total').map((x) => `${x.labels.remote_addr}:${x.labels.remote_port}=${x.value}`).join(' ');
      assert.ok(counted <= kernel && kernel <= counted + missed, `counted ${counted}, skipped runs ${missed}, kernel RetransSegs ${kernel}; every series: ${all}`);
      if (missed === 0) assert.equal(counted, kernel);
    }
  } finally {
    if (!serverStopped) await server.stop();
    await exporter.stop();
    pair.destroy();
    s.cleanup();
  }
});

test('container_writes: writes from a process in a Kubernetes-style container cgroup carry its container id and pod uid', async () => {
  const s = scratch();
  const root = features.cgroup2Root();
  const top = join(root, `flowscope-test-${randomBytes(3).toString('hex')}`);
  const podUid = randomUUID();
  const containerId = randomBytes(32).toString('hex');
  const dirs = [top, join(top, 'kubepods'), join(top, 'kubepods', 'besteffort'), join(top, 'kubepods', 'besteffort', `pod${podUid}`)];
  const leaf = join(dirs[3]!, containerId);
  dirs.push(leaf);
  for (const d of dirs) mkdirSync(d);
  const writer = startWriter(`fscw${randomBytes(3).toString('hex')}`, 41);
  const exporter = await startExporter([exampleConfig(s.dir, 'container_writes')]);
  try {
    writeFileSync(join(leaf, 'cgroup.procs'), String(writer.pid));
    writer.go();
    const match = { container_id: containerId, pod_uid: podUid };
    const m = await exporter.waitFor((m) => m.sum('container_write_syscalls_total', match) >= 41, 10_000, 'the container\'s 41 writes');
    assert.equal(m.sum('container_write_syscalls_total', match), 41);
    const series = m.select('container_write_syscalls_total', match);
    assert.equal(series.length, 1);
    assert.equal(series[0]!.labels.cgroup, leaf.slice(root.length));
  } finally {
    await writer.stop();
    await exporter.stop();
    for (const d of dirs.reverse()) if (existsSync(d)) rmdirSync(d);
    s.cleanup();
  }
});

test('all examples together: the exposition is promtool-clean', async () => {
  const s = scratch();
  const link = createVethNamespace();
  const configs = ['writes_by_process', 'tcp_retransmits', 'block_io_latency', 'container_writes'].map((n) => exampleConfig(s.dir, n));
  configs.push(exampleConfig(s.dir, 'packets_by_protocol', [['interface: eth0', `interface: ${link.host}`]]));
  const exporter = await startExporter(configs, ['--bpf-stats']);
  try {
    link.exec('ping', ['-c', '2', '-i', '0.05', link.hostAddr]);
    await sleep(200);
    const text = await exporter.text();
    const r = await runCommand('promtool', ['check', 'metrics'], { input: text });
    assert.equal(r.code, 0, `promtool: ${r.stdout}${r.stderr}`);
    assert.equal(r.stdout + r.stderr, '', 'no lint warnings');
    const m = await exporter.scrape();
    for (const p of ['writes_by_process', 'tcp_retransmits', 'block_io_latency', 'container_writes', 'packets_by_protocol']) assert.equal(m.sum('flowscope_program_up', { program: p }), 1, p);
    assert.ok(m.sum('flowscope_bpf_runs_total', { component: 'program', set: 'packets_by_protocol' }) >= 2, 'BPF run statistics are exported');
  } finally {
    await exporter.stop();
    link.destroy();
    s.cleanup();
  }
});
