// A real Prometheus (Debian's) for tests: its own configuration and storage in a scratch directory,
// on a free loopback port; asked through its HTTP API.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './agent.js';
import { sleep } from './run.js';

export interface Target {
  labels: Record<string, string>;
  scrapePool: string;
  scrapeUrl: string;
  health: 'up' | 'down' | 'unknown';
  lastError: string;
}

export interface RunningPrometheus {
  url: string;
  dir: string;
  targets(): Promise<Target[]>;
  /** Instant query; the result vector. */
  query(q: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>>;
  /** Waits until every target has been scraped at least once (health not unknown). */
  waitForScrapes(timeoutMs: number): Promise<Target[]>;
  stop(): Promise<void>;
}

export async function startPrometheus(scrapeConfigs: string): Promise<RunningPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'flowscope-prom-'));
  const port = await freePort();
  writeFileSync(join(dir, 'prometheus.yml'), `global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\nscrape_configs:\n${scrapeConfigs}`);
  const proc: ChildProcess = spawn('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  proc.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const exited = new Promise<void>((r) => proc.on('close', () => r()));
  const url = `http://127.0.0.1:${port}`;
  const api = async <T>(path: string): Promise<T> => {
    const body = (await (await fetch(`${url}${path}`)).json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`prometheus ${path}: ${body.error}`);
    return body.data;
  };
  const stop = async (): Promise<void> => {
    proc.kill('SIGTERM');
    const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      if ((await fetch(`${url}/-/ready`)).status === 200) break;
    } catch {
      // not yet
    }
    if (Date.now() > deadline || proc.exitCode !== null) {
      await stop();
      throw new Error(`prometheus did not start: ${log}`);
    }
    await sleep(100);
  }
  const targets = async (): Promise<Target[]> => (await api<{ activeTargets: Target[] }>('/api/v1/targets')).activeTargets;
  return {
    url,
    dir,
    targets,
    query: async (q) => (await api<{ result: Array<{ metric: Record<string, string>; value: [number, string] }> }>(`/api/v1/query?query=${encodeURIComponent(q)}`)).result,
    waitForScrapes: async (timeoutMs) => {
      const end = Date.now() + timeoutMs;
      let last: Target[] = [];
      while (Date.now() < end) {
        last = await targets();
        if (last.length > 0 && last.every((t) => t.health !== 'unknown')) return last;
        await sleep(250);
      }
      throw new Error(`prometheus scraped nothing in ${timeoutMs} ms: ${JSON.stringify(last)}`);
    },
    stop,
  };
}
