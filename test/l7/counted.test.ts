// HTTP/1 exchanges counted in the kernel (the agent's default when no per-exchange records are asked
// for): counts by method, status and route equal the clients' own, durations agree with nginx's
// access log, pipelining and keep-alive match as with records; every series (counts and duration
// buckets) equals what an agent given one record per exchange makes of the same traffic; a closed
// connection's kernel entries are taken out once read, an idle one's after IDLE_READS reads without
// growth (counted from a new entry when it carries requests again).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { startL7, startNginx, curl, type Nginx, type RunningL7 } from './support.js';
import { assertMixCounts, assertSlowRequestTimed } from './mix.js';
import { IDLE_READS } from '../../src/agent/l7/aggregates.js';

let nginx: Nginx;
let counted: RunningL7;
let recorded: RunningL7;

before(async () => {
  nginx = await startNginx();
  counted = startL7({ records: false });
  recorded = startL7();
});
after(async () => {
  counted?.stop();
  recorded?.stop();
  await nginx?.stop();
});

test('nginx over keep-alive, counted in the kernel: counts by method, status and route equal curl\'s, both roles', async () => {
  assert.ok(counted.monitor.countedEntries(), 'exchanges are counted in the kernel');
  assert.equal(recorded.monitor.countedEntries(), undefined, 'with records asked for, exchanges are sent one by one');
  const p = nginx.port;
  const urls = [
    ...Array.from({ length: 20 }, () => `http://127.0.0.1:${p}/index.html`),
    ...Array.from({ length: 7 }, (_, i) => `http://127.0.0.1:${p}/missing/${1000 + i}`),
    ...Array.from({ length: 5 }, () => `http://127.0.0.1:${p}/boom`),
    ...Array.from({ length: 9 }, (_, i) => `http://127.0.0.1:${p}/users/${i * 7919}`),
  ];
  const before = nginx.accessLog().length;
  const seen = curl(urls); // one curl: one keep-alive connection
  assert.deepEqual([200, 404, 500].map((s) => seen.filter((x) => x === s).length), [29, 7, 5]);
  const port = String(p);
  const m = await counted.waitFor((m) => m.sum('flowscope_http_requests_total', { port, role: 'server' }) >= 41 && m.sum('flowscope_http_requests_total', { port, role: 'client' }) >= 41, 5000, 'all 41 requests, both roles');
  for (const role of ['server', 'client']) {
    assertMixCounts(m, port, role);
    assert.equal(m.sum('flowscope_http_request_duration_seconds_count', { port, role }), 41, `${role}: each one timed`);
  }
  assert.equal(m.select('flowscope_http_requests_total', { port, role: 'server' })[0]!.labels.process, 'nginx');
  assert.equal(m.select('flowscope_http_requests_total', { port, role: 'client' })[0]!.labels.process, 'curl');
  assert.equal(nginx.accessLog().length - before, 41, 'nginx logged the same 41');
});

test('durations counted in the kernel agree with nginx\'s $request_time (a body paced at 100 KB/s)', async () => {
  const m = await assertSlowRequestTimed(counted, nginx);
  // its bucket: above 0.5 s, at most 2.5 s (cumulative buckets)
  const bucket = (le: string): number => m.sum('flowscope_http_request_duration_seconds_bucket', { port: String(nginx.port), route: '/slow/big.bin', role: 'server', le });
  assert.equal(bucket('0.5'), 0);
  assert.equal(bucket('2.5'), 1);
});

test('pipelining, counted in the kernel: three requests in one write, each with its status', async () => {
  const port = nginx.port;
  const reqs = ['GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n', 'GET /pipelined/42 HTTP/1.1\r\nHost: x\r\n\r\n', 'GET /boom HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'].join('');
  const p = String(port);
  const base = await counted.metrics();
  const was = (route: string, status: string): number => base.sum('flowscope_http_requests_total', { port: p, role: 'server', route, status });
  const answer = await new Promise<string>((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.write(reqs));
    let data = '';
    s.on('data', (d) => (data += d.toString('latin1')));
    s.on('end', () => resolve(data));
    s.on('error', reject);
  });
  assert.deepEqual([...answer.matchAll(/^HTTP\/1\.1 (\d{3})/gm)].map((x) => Number(x[1])), [200, 404, 500], 'nginx answered the three in order');
  const m = await counted.waitFor((m) => m.sum('flowscope_http_requests_total', { port: p, role: 'server', route: '/pipelined/{id}' }) === 1, 5000, 'the pipelined requests');
  assert.equal(m.sum('flowscope_http_requests_total', { port: p, role: 'server', route: '/pipelined/{id}', status: '404' }), 1);
  assert.equal(m.sum('flowscope_http_requests_total', { port: p, role: 'server', route: '/index.html', status: '200' }) - was('/index.html', '200'), 1);
  assert.equal(m.sum('flowscope_http_requests_total', { port: p, role: 'server', route: '/boom', status: '500' }) - was('/boom', '500'), 1);
  assert.equal(m.sum('flowscope_http_requests_total', { port: p, role: 'client' }), base.sum('flowscope_http_requests_total', { port: p, role: 'client' }), 'the test process itself is never traced');
});

test('nginx over HTTPS with curl, counted in the kernel: both roles, tls="true", counts equal curl\'s', async () => {
  const p = nginx.tlsPort;
  const statuses = curl([...Array.from({ length: 8 }, () => `https://127.0.0.1:${p}/index.html`), ...Array.from({ length: 3 }, (_, i) => `https://127.0.0.1:${p}/gone/${i}`)]);
  assert.deepEqual([200, 404].map((s) => statuses.filter((x) => x === s).length), [8, 3]);
  const port = String(p);
  const m = await counted.waitFor((m) => m.sum('flowscope_http_requests_total', { port, role: 'server' }) >= 11 && m.sum('flowscope_http_requests_total', { port, role: 'client' }) >= 11, 5000, '11 requests over TLS, both roles');
  for (const role of ['server', 'client']) {
    const c = { port, role, tls: 'true', method: 'GET' };
    assert.equal(m.sum('flowscope_http_requests_total', { ...c, status: '200', route: '/index.html' }), 8, role);
    assert.equal(m.sum('flowscope_http_requests_total', { ...c, status: '404', route: '/gone/{id}' }), 3, role);
    assert.equal(m.sum('flowscope_http_requests_total', { port, role }), 11, `${role}: nothing else`);
  }
});

test('an open connection idle for IDLE_READS reads leaves the kernel map with its counts credited; its next request is counted from a new entry', async () => {
  const p = String(nginx.port);
  const served = (m: Awaited<ReturnType<RunningL7['metrics']>>): number => m.sum('flowscope_http_requests_total', { port: p, role: 'server', route: '/users/{id}', status: '200' });
  const taken = (m: Awaited<ReturnType<RunningL7['metrics']>>): number => m.sum('flowscope_agent_l7_kernel_events_total', { event: 'aggregates_idle_taken' });
  // The earlier tests' connections closed: their entries go (at the closes' read, else idle).
  for (let i = 0; i <= IDLE_READS; i++) await counted.metrics();
  assert.deepEqual(counted.monitor.countedEntries(nginx.port), { agent: 0, kernel: 0 }, 'no entry left before this test');
  const base = await counted.metrics();
  const s = connect(nginx.port, '127.0.0.1');
  try {
    await new Promise<void>((resolve, reject) => s.once('connect', resolve).once('error', reject));
    const ask = (path: string): Promise<void> =>
      new Promise((resolve) => {
        let data = '';
        const on = (d: Buffer): void => {
          data += d.toString('latin1');
          if (data.endsWith('user\n')) {
            s.off('data', on);
            resolve();
          }
        };
        s.on('data', on);
        s.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
      });
    await ask('/users/1');
    await ask('/users/2');
    const m1 = await counted.waitFor((m) => served(m) - served(base) === 2, 5000, 'two requests on the open connection');
    // The only connection of this file still open: its two entries (two paths) are all the map holds.
    assert.deepEqual(counted.monitor.countedEntries(nginx.port), { agent: 2, kernel: 2 }, 'the open connection keeps its entries while it is counted');
    let m = m1;
    for (let i = 0; i < IDLE_READS; i++) m = await counted.metrics();
    assert.deepEqual(counted.monitor.countedEntries(nginx.port), { agent: 0, kernel: 0 }, `entries idle for ${IDLE_READS} reads are taken out`);
    assert.equal(taken(m) - taken(base), 2, 'both counted as taken out idle');
    assert.equal(served(m) - served(base), 2, 'nothing counted twice or lost by taking them out');
    await ask('/users/1');
    const m2 = await counted.waitFor((m) => served(m) - served(base) === 3, 5000, 'the third request, after the entries went');
    assert.equal(served(m2) - served(base), 3);
    assert.deepEqual(counted.monitor.countedEntries(nginx.port), { agent: 1, kernel: 1 }, 'a new entry for it');
  } finally {
    s.destroy();
  }
});

test('every series counted in the kernel equals the one made from a record per exchange; closed connections leave the kernel map', async () => {
  const series = async (l7: RunningL7): Promise<string[]> => {
    const m = await l7.metrics();
    return ['flowscope_http_requests_total', 'flowscope_http_request_duration_seconds_bucket', 'flowscope_http_request_duration_seconds_count']
      .flatMap((name) => [nginx.port, nginx.tlsPort].flatMap((port) => m.select(name, { port: String(port) })).map((s) => `${name}{${['port', 'role', 'process', 'method', 'status', 'route', 'tls', 'le'].map((l) => `${l}=${s.labels[l] ?? ''}`).join(',')}} ${s.value}`))
      .sort();
  };
  const a = await series(counted);
  const b = await series(recorded);
  assert.ok(a.length > 50, `series to compare (${a.length})`);
  assert.equal(a.length, b.length, 'the same series');
  // Counts equal exactly. The two agents time each exchange with their own programs' clocks, read one
  // after the other on the same syscall: a duration within a few µs of a bucket bound may land on
  // either side, so one bucket per series may differ by one (a bound off by one index moves many).
  const value = (x: string): number => Number(x.slice(x.lastIndexOf(' ') + 1));
  const name = (x: string): string => x.slice(0, x.lastIndexOf(' '));
  const bValue = new Map(b.map((x) => [name(x), value(x)]));
  const off = new Map<string, number>();
  for (const x of a) {
    const other = bValue.get(name(x));
    assert.notEqual(other, undefined, `${name(x)}: only the counting agent has it`);
    if (other === value(x)) continue;
    assert.ok(x.startsWith('flowscope_http_request_duration_seconds_bucket') && Math.abs(other! - value(x)) === 1, `${x} against ${other}`);
    const series = name(x).replace(/,le=[^}]*/, '');
    off.set(series, (off.get(series) ?? 0) + 1);
  }
  for (const [series, n] of off) assert.equal(n, 1, `${series}: ${n} buckets differ`);
  if (off.size) console.log(`# ${off.size} series with one request on the other side of a bucket bound`);
  // every connection so far closed (curl, the pipelining and the idle test's sockets): their entries go at
  // the next read; one whose close the kernel did not report (a tracing program fired again on its CPU
  // is skipped) goes after IDLE_READS reads without growth
  // (other test files run beside this one, traced too: only this file's servers' connections are looked at)
  const mine = (): { agent: number; kernel: number } => {
    const [plain, tls] = [counted.monitor.countedEntries(nginx.port)!, counted.monitor.countedEntries(nginx.tlsPort)!];
    return { agent: plain.agent + tls.agent, kernel: plain.kernel + tls.kernel };
  };
  await counted.metrics();
  const afterClose = mine();
  for (let i = 0; i < IDLE_READS && afterClose.kernel > 0; i++) await counted.metrics();
  if (afterClose.kernel > 0) console.log(`# ${afterClose.kernel} entries left after the closes' read (closes unreported), taken out idle`);
  assert.deepEqual(mine(), { agent: 0, kernel: 0 }, 'entries of closed connections taken out');
});
