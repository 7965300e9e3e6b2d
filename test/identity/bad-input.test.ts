// Bad input never stops the agent: a kubeconfig that does not parse, an API server nobody answers
// at, a runtime socket that answers garbage. Each gives one clear warning and a reason in
// /capabilities, and the agent goes on exporting with the labels it can fill.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { rmSync, writeFileSync } from 'node:fs';
import { startAgent, freePort, type RunningAgent } from '../support/agent.js';
import { waitFor } from '../support/run.js';
import { createCgroup, nodeClient, nodeServer, randomHex, waitForEdge } from './support.js';

const tag = randomHex(3);
const cleanups: Array<() => void | Promise<unknown>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

interface Caps {
  identity: {
    kubernetes: { enabled: boolean; reason?: string; resources: Array<{ state: string; lastError?: string }> };
    containers: { runtimes: Array<{ runtime: string; state: string; reason?: string }> };
  };
}

/** Connections still counted: the agent is exporting. */
async function stillExporting(agent: RunningAgent): Promise<void> {
  const port = await freePort();
  const server = await nodeServer(undefined, undefined, '127.0.0.1', port);
  try {
    await nodeClient(undefined, undefined, '127.0.0.1', port, 3);
    await agent.waitFor((m) => m.sum('flowscope_tcp_connections_closed_total', { role: 'client', port: String(port) }) === 3, 3000, 'the 3 connections counted');
  } finally {
    await server.stop();
  }
}

test('a kubeconfig that does not parse and a runtime socket answering garbage: warnings, reasons, labels it can fill', async () => {
  const kubeconfig = join(tmpdir(), `fsid-bad-kubeconfig-${tag}`);
  writeFileSync(kubeconfig, 'apiVersion: v1\nclusters: [ {{ this is : not yaml\n');
  cleanups.push(() => rmSync(kubeconfig, { force: true }));
  const sock = join(tmpdir(), `fsid-garbage-${tag}.sock`);
  const garbage = net.createServer((c) => {
    c.on('error', () => undefined);
    c.end('\x00\x01\x02garbage, not HTTP\r\n\r\n');
  });
  await new Promise<void>((r) => garbage.listen(sock, () => r()));
  cleanups.push(() => void garbage.close());
  const id = randomHex(32);
  const cg = createCgroup(`fsid-${tag}/libpod_parent/libpod-${id}`);
  cleanups.push(() => cg.destroy());

  const agent = await startAgent(['--kubeconfig', kubeconfig, '--runtime-socket', `podman=${sock}`]);
  cleanups.push(() => agent.stop());
  rmSync(kubeconfig, { force: true }); // read once, at start-up
  await stillExporting(agent);
  const port = await freePort();
  const server = await nodeServer(undefined, undefined, '127.0.0.1', port);
  try {
    await nodeClient(cg, undefined, '127.0.0.1', port, 2);
    const e = await waitForEdge(agent.url, (e) => e.role === 'client' && e.port === port && e.connections.closed === 2, 3000, 'the podman-cgroup client edge');
    assert.equal(e.local.container, id.slice(0, 12), 'degrades to the id from the cgroup path');
    assert.equal(e.local.runtime, 'podman');
    assert.match(String(e.local.reason), /podman API: .*(parse|HTTP|Parse|not JSON)/i);
  } finally {
    await server.stop();
  }
  const caps = await agent.json<Caps>('/capabilities');
  assert.equal(caps.identity.kubernetes.enabled, false);
  assert.match(caps.identity.kubernetes.reason ?? '', new RegExp(`kubeconfig ${kubeconfig} cannot be used`));
  assert.equal(caps.identity.containers.runtimes[0]!.state, 'error');
  assert.ok(caps.identity.containers.runtimes[0]!.reason, 'the runtime\'s reason is shown');
  const m = await agent.scrape();
  assert.ok(m.sum('flowscope_agent_enrich_errors_total', { source: 'podman' }) > 0, 'runtime errors are counted');
  assert.ok(m.sum('flowscope_agent_enrich_errors_total', { source: 'kubernetes' }) >= 1);
  const err = agent.stderr();
  assert.match(err, /Kubernetes labels are off: kubeconfig .* cannot be used/);
  assert.match(err, /podman API on .* did not answer as expected/);
  assert.equal(err.split('did not answer as expected').length - 1, 1, 'one warning, not one per request');
});

test('an API server nobody answers at: a warning, resources in error with the reason, exporting goes on', async () => {
  const port = await freePort();
  const kubeconfig = join(tmpdir(), `fsid-unreachable-${tag}`);
  writeFileSync(kubeconfig, `apiVersion: v1\nkind: Config\nclusters:\n- name: x\n  cluster:\n    server: http://127.0.0.1:${port}\n    insecure-skip-tls-verify: true\ncontexts:\n- name: x\n  context:\n    cluster: x\n    user: u\ncurrent-context: x\nusers:\n- name: u\n  user: {}\n`);
  cleanups.push(() => rmSync(kubeconfig, { force: true }));
  const agent = await startAgent(['--kubeconfig', kubeconfig]);
  cleanups.push(() => agent.stop());
  rmSync(kubeconfig, { force: true }); // read once, at start-up
  await waitFor(async () => (await agent.json<Caps>('/capabilities')).identity.kubernetes.resources.every((r) => r.state === 'error'), 5000, 'every resource in error');
  const caps = await agent.json<Caps>('/capabilities');
  assert.match(caps.identity.kubernetes.resources[0]!.lastError ?? '', /ECONNREFUSED/);
  await stillExporting(agent);
  assert.ok((await agent.scrape()).sum('flowscope_agent_enrich_errors_total', { source: 'kubernetes' }) >= 6, 'list/watch failures are counted');
  assert.match(agent.stderr(), /Kubernetes API http:\/\/127\.0\.0\.1:\d+: pods list\/watch failed .*ECONNREFUSED.*retrying with backoff/);
  assert.equal((await fetch(`${agent.url}/healthz`)).status, 200);
});
