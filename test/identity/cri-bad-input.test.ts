// CRI sockets that are not what they should be never stop the agent: a unix socket answering
// garbage bytes, a path with no socket, a real gRPC server that does not serve CRI's
// RuntimeService. Each gives one clear warning and a state and reason in /capabilities, the agent
// retries with backoff, and goes on exporting with the container ids from cgroup paths.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import * as grpc from '@grpc/grpc-js';
import { startAgent, freePort, type RunningAgent } from '../support/agent.js';
import { waitFor } from '../support/run.js';
import { createCgroup, nodeClient, nodeServer, randomHex, waitForEdge, type CgroupDir, type ConnectionsEdge } from './support.js';

const tag = randomHex(3);
const cleanups: Array<() => void | Promise<unknown>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

interface Cri {
  runtime: string;
  socket: string;
  state: string;
  reason?: string;
  containers: number;
}
const criOf = async (agent: RunningAgent): Promise<Cri[]> => (await agent.json<{ identity: { containers: { cri: Cri[] } } }>('/capabilities')).identity.containers.cri;

/** A cgroup laid out as containerd's (/…/k8s.io/<id>); made before the agent starts, so that its
 *  first walk of the hierarchy finds it. */
function containerdCgroup(): { id: string; cg: CgroupDir } {
  const id = randomHex(32);
  const cg = createCgroup(`fsid-${tag}/k8s.io/${id}`);
  cleanups.push(() => cg.destroy());
  return { id, cg };
}

/** A client in that cgroup: its edge, once its 2 connections closed. */
async function clientEdge(agent: RunningAgent, cg: CgroupDir): Promise<ConnectionsEdge> {
  const port = await freePort();
  const server = await nodeServer(undefined, undefined, '127.0.0.1', port);
  try {
    await nodeClient(cg, undefined, '127.0.0.1', port, 2);
    return await waitForEdge(agent.url, (e) => e.role === 'client' && e.port === port && e.connections.closed === 2, 3000, 'the containerd-cgroup client edge');
  } finally {
    await server.stop();
  }
}

test('a CRI socket answering garbage and a CRI socket path that does not exist: one warning each, states and reasons, ids from cgroup paths', async () => {
  const garbageSock = join(tmpdir(), `fsid-cri-garbage-${tag}.sock`);
  const garbage = net.createServer((c) => {
    c.on('error', () => undefined);
    c.end('\x00\x01\x02garbage, not HTTP/2\r\n\r\n');
  });
  await new Promise<void>((r) => garbage.listen(garbageSock, () => r()));
  cleanups.push(() => new Promise((r) => garbage.close(r)), () => rmSync(garbageSock, { force: true }));
  const absent = join(tmpdir(), `fsid-cri-absent-${tag}`, 'crio.sock');

  const { id, cg } = containerdCgroup();
  const agent = await startAgent(['--runtime-socket', `containerd=${garbageSock}`, '--runtime-socket', `cri-o=${absent}`]);
  cleanups.push(() => agent.stop());
  await waitFor(async () => (await criOf(agent)).every((c) => c.state !== 'connected' && c.reason !== 'not contacted yet'), 5000, 'both CRI sockets tried');
  const [containerd, crio] = await criOf(agent);
  assert.deepEqual([containerd?.runtime, containerd?.socket, containerd?.state, containerd?.containers], ['containerd', garbageSock, 'error', 0]);
  assert.match(containerd?.reason ?? '', /^listing containers: the socket answered, but not with HTTP\/2 gRPC/);
  assert.deepEqual([crio?.runtime, crio?.socket, crio?.state], ['cri-o', absent, 'unavailable']);
  assert.equal(crio?.reason, `socket ${absent} is absent`);

  const edge = await clientEdge(agent, cg);
  assert.equal(edge.local.container, id.slice(0, 12), 'degrades to the id from the cgroup path');
  assert.equal(edge.local.container_id, id);
  assert.equal(edge.local.runtime, 'containerd');
  assert.match(String(edge.local.reason), /^containerd CRI: listing containers: the socket answered, but not with HTTP\/2 gRPC/);

  // Retried with backoff (2 s, then 4 s): more errors counted, still one warning per socket.
  await agent.waitFor((m) => m.sum('flowscope_agent_enrich_errors_total', { source: 'containerd' }) >= 2, 5000, 'a second attempt');
  const err = agent.stderr();
  assert.equal(err.match(/containerd CRI on .* did not answer as expected \(listing containers: the socket answered, but not with HTTP\/2 gRPC/g)?.length, 1);
  assert.equal(err.match(new RegExp(`cri-o CRI on ${absent} did not answer as expected \\(socket ${absent} is absent\\)`, 'g'))?.length, 1);
  assert.equal((await fetch(`${agent.url}/healthz`)).status, 200);
});

test('a gRPC server without CRI RuntimeService (UNIMPLEMENTED): an error state that says so, exporting goes on', async () => {
  const sock = join(tmpdir(), `fsid-cri-unimplemented-${tag}.sock`);
  const server = new grpc.Server();
  await new Promise<void>((resolve, reject) => server.bindAsync(`unix://${sock}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())));
  cleanups.push(() => new Promise((r) => server.tryShutdown(() => r(undefined))), () => rmSync(sock, { force: true }));

  const { id, cg } = containerdCgroup();
  const agent = await startAgent(['--runtime-socket', `containerd=${sock}`]);
  cleanups.push(() => agent.stop());
  await waitFor(async () => (await criOf(agent))[0]?.state === 'error', 5000, 'the CRI socket in error');
  assert.match((await criOf(agent))[0]?.reason ?? '', /^listing containers: the socket speaks gRPC but does not serve runtime\.v1\.RuntimeService \(CRI v1\): .*\/runtime\.v1\.RuntimeService\/Version/);
  const edge = await clientEdge(agent, cg);
  assert.equal(edge.local.container, id.slice(0, 12));
  assert.match(agent.stderr(), /containerd CRI on .* did not answer as expected \(listing containers: the socket speaks gRPC but does not serve runtime\.v1\.RuntimeService.*Check that .* is containerd's CRI socket/);
  const m = await agent.scrape();
  assert.ok(m.sum('flowscope_agent_enrich_errors_total', { source: 'containerd' }) >= 1, 'CRI errors are counted');
});
