// The endpoint server every component shares, against real sockets: with a web configuration only the
// right credentials over TLS get anything; limits cut off oversized and slow clients at every stage;
// errors after listening are logged, not swallowed by a stale listen handler.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { readFileSync } from 'node:fs';
import pino from 'pino';
import type http from 'node:http';
import { serve, type Endpoint, type ServeOptions } from '../../src/lib/http-listen.js';
import { loadWebConfig } from '../../src/lib/web-config.js';
import { SingleFlight } from '../../src/lib/single-flight.js';
import { bcryptHash, makeCertificates, type TestCertificates } from '../support/certs.js';
import { rawExchange, request } from '../support/https.js';
import { freePort } from '../support/agent.js';

let certs: TestCertificates;
let hash: string;
before(() => {
  certs = makeCertificates();
  hash = bcryptHash('right-password');
});
after(() => certs.remove());

function capture(): { log: pino.Logger; lines: () => string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  return { log: pino({ level: 'debug' }, sink), lines: () => lines };
}

const BIG = `${'x'.repeat(1023)}\n`.repeat(16 * 1024); // 16 MiB: more than socket buffers hold
const handler: http.RequestListener = (req, res) => {
  if (req.url === '/big') return void res.writeHead(200, { 'content-type': 'text/plain' }).end(BIG);
  res.writeHead(200, { 'content-type': 'text/plain' }).end(`hello ${req.url}\n`);
};

function webConfig(body: string): string {
  const path = join(certs.dir, `web-${Math.random().toString(36).slice(2)}.yml`);
  writeFileSync(path, body);
  return path;
}

async function start(web: string | undefined, extra: Partial<ServeOptions> = {}): Promise<Endpoint & { port: number; logLines: () => string[] }> {
  const port = await freePort();
  const { log, lines } = capture();
  const e = await serve(handler, { listen: { host: '127.0.0.1', port }, log, ...(web ? { web: loadWebConfig(web) } : {}), ...extra });
  return Object.assign(e, { port, logLines: lines });
}

const TLS_AND_USERS = (): string => `tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\nbasic_auth_users:\n  prometheus: ${hash}\n`;

test('TLS and basic auth: the right credentials get 200; none, wrong ones and unknown users get 401 on every path; plain HTTP gets nothing', async () => {
  const e = await start(webConfig(TLS_AND_USERS()));
  const url = `https://127.0.0.1:${e.port}`;
  try {
    const ok = await request(`${url}/metrics`, { ca: certs.caCert, auth: 'prometheus:right-password' });
    assert.equal(ok.status, 200);
    assert.equal(ok.body, 'hello /metrics\n');
    for (const path of ['/metrics', '/', '/healthz', '/capabilities', '/connections', '/nothing-here', '/metrics?x=1']) {
      for (const auth of [undefined, 'prometheus:wrong', 'nobody:right-password', 'prometheus:']) {
        const r = await request(`${url}${path}`, { ca: certs.caCert, ...(auth ? { auth } : {}) });
        assert.equal(r.status, 401, `${path} with ${auth ?? 'no credentials'}`);
        assert.equal(r.headers['www-authenticate'], 'Basic realm="flowscope", charset="UTF-8"');
        assert.ok(!r.body.includes('hello'), 'nothing of the handler');
      }
    }
    const bearer = await request(`${url}/metrics`, { ca: certs.caCert, headers: { authorization: 'Bearer right-password' } });
    assert.equal(bearer.status, 401);
    // Plain HTTP to the TLS port: the handshake fails, not one byte of HTTP comes back.
    const plain = await rawExchange('127.0.0.1', e.port, ['GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Basic cHJvbWV0aGV1czpyaWdodC1wYXNzd29yZA==\r\n\r\n'], { waitMs: 3000 });
    assert.ok(plain.closedAfterMs !== undefined, 'the server hangs up');
    assert.ok(!plain.received.toString('latin1').includes('HTTP/1.1'), `plain HTTP got: ${plain.received.toString('latin1')}`);
    await assert.rejects(request(`http://127.0.0.1:${e.port}/metrics`, { auth: 'prometheus:right-password', timeoutMs: 3000 }));
    // A client that does not trust the server's CA gets nowhere either.
    await assert.rejects(request(`${url}/metrics`, { auth: 'prometheus:right-password' }), /self-signed|unable to verify|certificate/);
    assert.ok((e.refused.get('tls_handshake') ?? 0) >= 2, JSON.stringify([...e.refused]));
    assert.ok((e.refused.get('unauthenticated') ?? 0) > 0 && (e.refused.get('wrong_credentials') ?? 0) > 0);
  } finally {
    await e.close();
  }
});

test('client certificates: RequireAndVerifyClientCert admits the CA\'s client and no one else; client_allowed_sans narrows it', async () => {
  const cfg = (sans: string): string =>
    webConfig(`tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_ca_file: flowscope-test-ca.crt\n  client_auth_type: RequireAndVerifyClientCert\n${sans}`);
  const e = await start(cfg(''));
  const url = `https://127.0.0.1:${e.port}/metrics`;
  try {
    assert.equal((await request(url, { ca: certs.caCert, cert: certs.clientCert, key: certs.clientKey })).status, 200);
    await assert.rejects(request(url, { ca: certs.caCert }));
    await assert.rejects(request(url, { ca: certs.caCert, cert: certs.strangerCert, key: certs.strangerKey }));
  } finally {
    await e.close();
  }
  const narrow = await start(cfg('  client_allowed_sans: [other.flowscope.test]\n'));
  try {
    await assert.rejects(request(`https://127.0.0.1:${narrow.port}/metrics`, { ca: certs.caCert, cert: certs.clientCert, key: certs.clientKey }));
    assert.equal(narrow.refused.get('client_certificate'), 1);
  } finally {
    await narrow.close();
  }
  const wide = await start(cfg('  client_allowed_sans: [scraper.flowscope.test]\n'));
  try {
    assert.equal((await request(`https://127.0.0.1:${wide.port}/metrics`, { ca: certs.caCert, cert: certs.clientCert, key: certs.clientKey })).status, 200);
  } finally {
    await wide.close();
  }
});

test('certificates renewed in place are served to new connections without a restart', async () => {
  const dir = join(certs.dir, `rotate-${process.pid}`);
  const { mkdirSync } = await import('node:fs');
  mkdirSync(dir, { recursive: true });
  copyFileSync(certs.serverCert, join(dir, 'server.crt'));
  copyFileSync(certs.serverKey, join(dir, 'server.key'));
  const path = join(dir, 'web.yml');
  writeFileSync(path, 'tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n');
  const e = await start(path);
  const servedSerial = (): Promise<string> =>
    new Promise((resolve, reject) => {
      const s = tlsConnect({ host: '127.0.0.1', port: e.port, ca: readFileSync(certs.caCert), servername: 'localhost' }, () => {
        resolve(s.getPeerCertificate().serialNumber.toUpperCase());
        s.destroy();
      });
      s.on('error', reject);
    });
  try {
    const first = await servedSerial();
    assert.equal(first, certs.serial(certs.serverCert).toUpperCase());
    const renewed = certs.renewServer();
    copyFileSync(certs.serverCert, join(dir, 'server.crt'));
    copyFileSync(certs.serverKey, join(dir, 'server.key'));
    await new Promise((r) => setTimeout(r, 1100));
    await servedSerial(); // the connection that notices the change
    assert.equal(await servedSerial(), renewed.toUpperCase());
  } finally {
    await e.close();
  }
});

test('limits: oversized headers get 431, a body on GET 413, and the connection is not kept', async () => {
  const e = await start(undefined);
  try {
    const r = await request(`http://127.0.0.1:${e.port}/`, { headers: { 'x-filler': 'a'.repeat(10_000) } });
    assert.equal(r.status, 431);
    const body = await request(`http://127.0.0.1:${e.port}/`, { method: 'GET', headers: { 'content-type': 'text/plain', 'content-length': '100' }, body: 'x'.repeat(100) });
    assert.equal(body.status, 413);
    assert.equal(body.headers.connection, 'close');
    assert.equal(e.refused.get('body_too_large'), 1);
  } finally {
    await e.close();
  }
});

test('slow clients are cut off: headers that never end, a TLS handshake that never starts, a reader that does not read', async () => {
  const limits = { headersTimeoutMs: 1000, requestTimeoutMs: 1500, handshakeTimeoutMs: 1000, responseTimeoutMs: 1500 };
  const plain = await start(undefined, { limits });
  try {
    // One header line every 400 ms, never the blank line that ends them (slowloris).
    const lines = ['GET / HTTP/1.1\r\n', 'Host: x\r\n', ...Array.from({ length: 20 }, (_, i) => `X-${i}: y\r\n`)];
    const slow = await rawExchange('127.0.0.1', plain.port, lines, { gapMs: 400, waitMs: 8000 });
    assert.ok(slow.closedAfterMs !== undefined && slow.closedAfterMs < 4000, `closed after ${slow.closedAfterMs} ms`);
    assert.ok(!slow.received.toString().includes('hello'));
    // A client that connects and says nothing.
    const silent = await rawExchange('127.0.0.1', plain.port, [], { waitMs: 8000 });
    assert.ok(silent.closedAfterMs !== undefined && silent.closedAfterMs < 4000, `silent closed after ${silent.closedAfterMs} ms`);
    // A reader that asks for 16 MiB and never reads: cut off at the response deadline.
    const net = await import('node:net');
    const stalled = await new Promise<{ bytes: number; ended: boolean }>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port: plain.port }, () => s.write('GET /big HTTP/1.1\r\nHost: x\r\n\r\n'));
      s.pause();
      let bytes = 0;
      // Reads again after the deadline: what is left is what the kernel had already taken in.
      setTimeout(() => {
        s.on('data', (d: Buffer) => (bytes += d.length));
        s.resume();
      }, 3000);
      s.on('error', () => undefined);
      s.on('close', () => resolve({ bytes, ended: true }));
      setTimeout(() => (s.destroy(), resolve({ bytes, ended: false })), 15_000);
    });
    assert.ok(stalled.ended, 'the connection was closed');
    assert.ok(stalled.bytes < BIG.length, `the stalled reader got ${stalled.bytes} of ${BIG.length} bytes`);
    assert.ok((plain.refused.get('slow_response') ?? 0) >= 1);
  } finally {
    await plain.close();
  }
  const secure = await start(webConfig('tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n'), { limits });
  try {
    // TCP connected, no ClientHello.
    const silent = await rawExchange('127.0.0.1', secure.port, [], { waitMs: 8000 });
    assert.ok(silent.closedAfterMs !== undefined && silent.closedAfterMs < 4000, `TLS silent closed after ${silent.closedAfterMs} ms`);
  } finally {
    await secure.close();
  }
});

test('connections beyond the limit are closed as they arrive', async () => {
  const e = await start(undefined, { limits: { maxConnections: 4 } });
  try {
    const net = await import('node:net');
    const held = await Promise.all(Array.from({ length: 4 }, () => new Promise<import('node:net').Socket>((r) => { const s = net.connect({ host: '127.0.0.1', port: e.port }, () => r(s)); })));
    await new Promise((r) => setTimeout(r, 100));
    const extra = await rawExchange('127.0.0.1', e.port, ['GET / HTTP/1.1\r\nHost: x\r\n\r\n'], { waitMs: 3000 });
    assert.ok(extra.closedAfterMs !== undefined, 'the fifth connection is closed');
    assert.equal(extra.received.length, 0);
    for (const s of held) s.destroy();
  } finally {
    await e.close();
  }
});

test('a flood of wrong passwords is bounded: bcrypt runs a few at a time, the rest are told to retry (429)', async () => {
  const e = await start(webConfig(`basic_auth_users:\n  prometheus: ${hash}\n`));
  try {
    const delay = monitorEventLoopDelay({ resolution: 10 });
    delay.enable();
    const replies = await Promise.all(Array.from({ length: 60 }, (_, i) => request(`http://127.0.0.1:${e.port}/`, { auth: `prometheus:wrong-${i}`, timeoutMs: 30_000 })));
    delay.disable();
    // bcrypt runs in worker threads: on this thread the 34 hashes (~90 ms each) would have stalled the
    // loop for seconds; what is left is scheduling on a shared 2-core machine (both workers busy).
    assert.ok(delay.max / 1e6 < 400, `the event loop stalled for ${(delay.max / 1e6).toFixed(0)} ms`);
    const statuses = replies.map((r) => r.status);
    assert.ok(statuses.every((s) => s === 401 || s === 429), statuses.join(','));
    assert.ok(statuses.includes(429), 'some attempts were refused as busy');
    assert.equal(statuses.filter((s) => s === 401).length, 34, '2 running + 32 waiting were checked');
    // The scraper's known credentials still get in (cached after the first check).
    assert.equal((await request(`http://127.0.0.1:${e.port}/`, { auth: 'prometheus:right-password' })).status, 200);
  } finally {
    await e.close();
  }
});

test('the listen error is reported with the fix, and a later server error is logged, not swallowed by the listen handler', async () => {
  const first = await start(undefined);
  try {
    const { log } = capture();
    await assert.rejects(serve(handler, { listen: { host: '127.0.0.1', port: first.port }, log }), /port is in use .* --listen/);
    assert.equal(first.server.listenerCount('error'), 1, 'only the logging handler stays');
    first.server.emit('error', new Error('EMFILE: too many open files'));
    assert.ok(first.logLines().some((l) => l.includes('EMFILE')), 'the later error is in the log');
  } finally {
    await first.close();
  }
});

test('single flight: concurrent renders share one; past the bound callers are turned away', async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const flight = new SingleFlight(async () => {
    await gate;
    return 'rendered';
  }, 10);
  const runs = Array.from({ length: 12 }, () => flight.run());
  assert.equal(runs.filter((r) => r === undefined).length, 2);
  release();
  assert.deepEqual(await Promise.all(runs.filter((r) => r !== undefined)), Array(10).fill('rendered'));
  assert.equal(flight.started, 1);
  await flight.run();
  assert.equal(flight.started, 2, 'a later request renders again');
});
