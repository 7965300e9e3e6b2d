// The L7 monitor in the test process, and the real servers the tests talk to (nginx, Python's
// http.server), each in its own temporary directory on a free loopback port, stopped after.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { L7Monitor, type RequestRecord } from '../../src/agent/l7/monitor.js';
import { PrometheusExporter } from '../../src/agent/export/prometheus.js';
import { Metrics, parseExposition } from '../support/prom.js';
import { freePort } from '../support/agent.js';
import { runCommand, sleep, waitFor } from '../support/run.js';
import { repoPath } from '../../src/lib/paths.js';

export interface RunningL7 {
  monitor: L7Monitor;
  records: RequestRecord[];
  /** What the agent would write: the exposition, records and log lines. */
  written(): Promise<string>;
  metrics(): Promise<Metrics>;
  waitFor(pred: (m: Metrics) => boolean, timeoutMs: number, what: string): Promise<Metrics>;
  stop(): void;
}

/** `records: false`: no per-exchange records asked for (the agent's default without --output ndjson): HTTP/1 exchanges are counted in the kernel. */
export function startL7(options: { switch?: string[]; cgroupRoot?: string; releaseAfterMs?: number; records?: boolean } = {}): RunningL7 {
  const records: RequestRecord[] = [];
  const logLines: string[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void logLines.push(s) });
  const monitor = L7Monitor.start({
    log,
    ...(options.records === false ? {} : { records: (r: RequestRecord) => void records.push(r) }),
    ...(options.switch ? { switch: options.switch } : {}),
    ...(options.cgroupRoot ? { cgroupRoot: options.cgroupRoot } : {}),
    ...(options.releaseAfterMs !== undefined ? { releaseAfterMs: options.releaseAfterMs } : {}),
  });
  const exporter = new PrometheusExporter();
  const text = async (): Promise<string> => {
    await monitor.tick();
    const out: string[] = [];
    exporter.renderRequests(out, monitor.edges());
    monitor.renderSelf(out);
    return `${out.join('\n')}\n`;
  };
  return {
    monitor,
    records,
    written: async () => `${await text()}${records.map((r) => JSON.stringify(r)).join('\n')}\n${logLines.join('')}${JSON.stringify(monitor.capabilities(false))}`,
    metrics: async () => new Metrics(parseExposition(await text())),
    waitFor: async (pred, timeoutMs, what) =>
      (await waitFor(
        async () => {
          const m = new Metrics(parseExposition(await text()));
          return pred(m) ? m : undefined;
        },
        timeoutMs,
        what,
        100,
      ))!,
    stop: () => monitor.stop(),
  };
}

export interface Nginx {
  port: number;
  tlsPort: number;
  /** HTTP/2 with prior knowledge (cleartext), and HTTP/2 over TLS (ALPN). */
  h2Port: number;
  h2TlsPort: number;
  dir: string;
  /** Access log entries: method, uri (no query), status, request_time (s). */
  accessLog(): Array<{ method: string; uri: string; status: number; seconds: number; bytes: number }>;
  stop(): Promise<void>;
}

/** A self-signed certificate for localhost in `dir`. */
export function makeCert(dir: string): { cert: string; key: string } {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-days', '2', '-keyout', key, '-out', cert], { stdio: 'ignore' });
  return { cert, key };
}

/**
 * Debian's nginx: static files, /boom answers 500, /users/<id> answers 200, /slow/ is sent at
 * 100 KB/s, text gzip'd on demand (a chunked response). The access log is the ground truth.
 */
export async function startNginx(): Promise<Nginx> {
  const dir = mkdtempSync(join(tmpdir(), 'fs-l7-nginx-'));
  const port = await freePort();
  const tlsPort = await freePort();
  const h2Port = await freePort();
  const h2TlsPort = await freePort();
  const { cert, key } = makeCert(dir);
  const www = join(dir, 'www');
  execFileSync('mkdir', ['-p', join(www, 'slow'), join(www, 'static')]);
  writeFileSync(join(www, 'index.html'), '<html>flowscope</html>\n');
  writeFileSync(join(www, 'static', 'app.txt'), 'x'.repeat(20_000));
  writeFileSync(join(www, 'slow', 'big.bin'), Buffer.alloc(150_000, 7));
  writeFileSync(
    join(dir, 'nginx.conf'),
    `user root;
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  types { text/html html; text/plain txt; application/octet-stream bin; }
  sendfile on;
  keepalive_requests 10000;
  log_format fs '$request_method $uri $status $request_time $bytes_sent';
  gzip on; gzip_types text/plain; gzip_min_length 0;
  server {
    listen 127.0.0.1:${port};
    listen 127.0.0.1:${tlsPort} ssl;
    listen 127.0.0.1:${h2Port} http2;
    listen 127.0.0.1:${h2TlsPort} ssl http2;
    ssl_certificate ${cert};
    ssl_certificate_key ${key};
    access_log ${dir}/access.log fs;
    root ${www};
    location = /boom { return 500; }
    location /users/ { default_type text/plain; return 200 "user\\n"; }
    location /slow/ { limit_rate 100k; limit_rate_after 0; }
  }
}
`,
  );
  const proc = spawn('/usr/sbin/nginx', ['-c', join(dir, 'nginx.conf'), '-p', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  await waitFor(() => existsSync(join(dir, 'nginx.pid')) || proc.exitCode !== null, 5000, 'nginx to start');
  if (proc.exitCode !== null) throw new Error(`nginx exited: ${stderr}`);
  await sleep(200);
  return {
    port,
    tlsPort,
    h2Port,
    h2TlsPort,
    dir,
    accessLog: () => {
      const path = join(dir, 'access.log');
      if (!existsSync(path)) return [];
      return readFileSync(path, 'utf8')
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => {
          const [method, uri, status, t, bytes] = l.split(' ');
          return { method: method!, uri: uri!, status: Number(status), seconds: Number(t), bytes: Number(bytes) };
        });
    },
    stop: () => stopChild(proc, () => rmSync(dir, { recursive: true, force: true })),
  };
}

export async function stopChild(proc: ChildProcess, after?: () => void): Promise<void> {
  if (proc.exitCode === null && proc.signalCode === null) {
    const done = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    await Promise.race([done, sleep(3000)]);
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  }
  after?.();
}

/** Python's http.server on a free port, serving a temporary directory; its log lines go to stderr. */
export async function startPython(): Promise<{ port: number; dir: string; log: () => string; stop(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'fs-l7-py-'));
  const port = await freePort();
  writeFileSync(join(dir, 'hello.txt'), 'hello from python\n');
  const proc = spawn('/usr/bin/python3', ['-m', 'http.server', String(port), '--bind', '127.0.0.1', '--directory', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  proc.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  await waitFor(async () => {
    try {
      execFileSync('curl', ['-s', '-o', '/dev/null', `http://127.0.0.1:${port}/`]);
      return true;
    } catch {
      return proc.exitCode !== null ? true : undefined;
    }
  }, 5000, 'python http.server');
  return { port, dir, log: () => log, stop: () => stopChild(proc, () => rmSync(dir, { recursive: true, force: true })) };
}

/** Runs curl with each URL on one connection (keep-alive); returns the status curl saw for each. */
export function curl(urls: string[], extra: string[] = []): number[] {
  const args = ['-s', '-k', '-w', '%{http_code}\\n', ...extra];
  for (const u of urls) args.push('-o', '/dev/null', u);
  const out = execFileSync('curl', args, { encoding: 'utf8', timeout: 60_000 });
  return out.trim().split('\n').filter(Boolean).map(Number);
}

const PEERS = repoPath('dist/test/l7/fixtures/peers.js');

/** A Node.js server of fixtures/peers.ts in its own process; resolves once it listens. */
export async function startPeer(mode: 'https-server' | 'grpc-server', args: string[], env: Record<string, string> = {}): Promise<{ port: number; pid: number; stop(): Promise<void> }> {
  const proc = spawn(process.execPath, [PEERS, mode, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const port = await waitFor(() => {
    if (proc.exitCode !== null) throw new Error(`${mode} exited: ${err}`);
    const m = /listening (\d+)/.exec(out);
    return m ? Number(m[1]) : undefined;
  }, 10_000, mode);
  return { port: port!, pid: proc.pid!, stop: () => stopChild(proc) };
}

/** Runs a client of fixtures/peers.ts to its end; returns what it printed (JSON). */
export async function runPeer<T>(mode: 'https-client' | 'grpc-client', args: string[], env: Record<string, string> = {}): Promise<T> {
  const r = await runCommand(process.execPath, [PEERS, mode, ...args], { env: { ...process.env, ...env }, timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`${mode} failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

/**
 * curl with everything in a config file (-K), so that nothing of the request shows on its command
 * line (/proc/PID/cmdline is not what these tests are about): one connection, the statuses in order.
 */
export function curlQuiet(urls: string[], headers: string[] = [], body?: string): number[] {
  const dir = mkdtempSync(join(tmpdir(), 'fs-l7-curl-'));
  const q = (s: string): string => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  const lines = ['silent', 'insecure', `write-out = ${q('%{http_code}\\n')}`, ...headers.map((h) => `header = ${q(h)}`)];
  if (body !== undefined) lines.push(`data-binary = ${q(body)}`);
  for (const u of urls) lines.push(`url = ${q(u)}`, 'output = "/dev/null"');
  writeFileSync(join(dir, 'curlrc'), `${lines.join('\n')}\n`);
  try {
    const out = execFileSync('curl', ['-K', join(dir, 'curlrc')], { encoding: 'utf8', timeout: 60_000 });
    return out.trim().split('\n').filter(Boolean).map(Number);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
