// A hub on a loopback port with its data in a temporary directory, and a client for it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import pino from 'pino';
import { startHub, type HubOptions, type RunningHub } from '../../src/hub/hub.js';

export interface TestHub {
  hub: RunningHub;
  url: string;
  dir: string;
  post(body: unknown, options?: { token?: string; gzip?: boolean; raw?: Buffer; headers?: Record<string, string> }): Promise<{ status: number; body: any }>;
  get(path: string, token?: string): Promise<{ status: number; body: any; text: string; headers: Headers }>;
  /** Joins what was accepted (as the hub's timer would once every agent has reported). */
  settle(): Promise<void>;
  stop(): Promise<void>;
  /** Stops and removes the data. */
  destroy(): Promise<void>;
}

export async function startTestHub(options: Partial<HubOptions> & { dir?: string } = {}): Promise<TestHub> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'fs-hub-'));
  const hub = await startHub({
    listen: { host: '127.0.0.1', port: 0 },
    dataDir: dir,
    retentionMs: 24 * 3_600_000,
    version: 'test',
    log: pino({ level: process.env.FLOWSCOPE_TEST_LOG ?? 'silent' }),
    ...options,
  });
  const url = hub.url;
  let stopped = false;
  const t: TestHub = {
    hub,
    url,
    dir,
    async post(body, o = {}) {
      const json = o.raw ?? Buffer.from(JSON.stringify(body));
      const payload = o.raw ?? (o.gzip === false ? json : gzipSync(json));
      const headers: Record<string, string> = { 'content-type': 'application/json', ...(o.gzip === false || o.raw ? {} : { 'content-encoding': 'gzip' }), ...o.headers };
      if (o.token) headers.authorization = `Bearer ${o.token}`;
      const res = await fetch(`${url}/api/v1/ingest`, { method: 'POST', headers, body: payload });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined };
    },
    async get(path, token) {
      const res = await fetch(`${url}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
      const text = await res.text();
      let body: any;
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
      return { status: res.status, body, text, headers: res.headers };
    },
    async settle() {
      await hub.ingest!.finalize(Date.now(), true);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await hub.close();
    },
    async destroy() {
      await t.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return t;
}
