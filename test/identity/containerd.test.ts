// Real containers run by a private containerd (Debian's 1.6, its CRI plugin) through CRI, on the
// host network: a busybox httpd in a pod under a kubelet-style cgroup parent, a wget client in a
// pod under containerd's own layout (/k8s.io/<id>). The agent, pointed at that containerd's socket,
// labels both edges with the container name, image and pod that CRI answers, and shows the socket
// connected in /capabilities; ground truth from CRI and `ctr`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, startAgent, type RunningAgent } from '../support/agent.js';
import { pino } from 'pino';
import { CriRuntime } from '../../src/agent/enrich/cri.js';
import { waitFor } from '../support/run.js';
import { containerdPresent, PrivateContainerd, type PodSpec } from './containerd.js';
import { randomHex, waitForEdge } from './support.js';

const tag = randomHex(3);
const skip = containerdPresent ? false : 'containerd, ctr, runc or busybox-static is not installed (scripts/setup.sh --test installs them)';
let containerd: PrivateContainerd | undefined;
let agent: RunningAgent | undefined;

interface CriCaps {
  identity: { containers: { cri: Array<{ runtime: string; socket: string; state: string; reason?: string; containers: number; version?: string }> } };
}
const criCaps = async (): Promise<CriCaps['identity']['containers']['cri']> => (await agent!.json<CriCaps>('/capabilities')).identity.containers.cri;

before(async () => {
  if (!containerdPresent) return;
  containerd = new PrivateContainerd(tag);
  // The agent first: containerd is not there yet.
  // --process-args: the command lines below are checked (redacted, nothing secret in them).
  agent = await startAgent(['--runtime-socket', `containerd=${containerd.socket}`, '--process-args']);
});

after(async () => {
  await agent?.stop();
  await containerd?.stop();
});

/** The cgroup v2 path of a process (the hierarchy the agent's cgroup ids come from). */
const cgroupV2 = (pid: number): string => readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((l) => l.startsWith('0::'))!.slice(3);

test('a CRI socket that appears after the agent: unavailable with one warning, then connected (backoff)', { skip }, async () => {
  await waitFor(async () => (await criCaps())[0]?.state === 'unavailable', 5000, 'the CRI socket unavailable');
  assert.match((await criCaps())[0]?.reason ?? '', /socket .* is absent/);
  await containerd!.start();
  await waitFor(async () => (await criCaps())[0]?.state === 'connected', 10_000, 'the agent connecting to containerd');
  const err = agent!.stderr();
  assert.equal(err.match(/containerd CRI on .* did not answer as expected \(socket .* is absent\)/g)?.length, 1, 'one warning');
  assert.match(err, /containerd CRI answers again/);
});

test('CRI containers: names, images and pods from containerd on both edges, the socket connected in /capabilities, removed containers dropped', { skip }, async () => {
  const c = containerd!;
  const port = await freePort();
  const ns = `shop-${tag}`;
  const web: PodSpec = { name: `web-${tag}`, namespace: ns, uid: randomUUID() };
  web.cgroupParent = `/kubepods/besteffort/pod${web.uid}`;
  const cli: PodSpec = { name: `client-${tag}`, namespace: ns, uid: randomUUID() };
  const go = join(c.dir, 'go');
  mkdirSync(go);

  const webPod = await c.runPod(web);
  const webId = await c.runContainer(webPod, web, { name: 'web', command: ['httpd', '-f', '-p', `127.0.0.1:${port}`, '-h', '/www'] });
  const cliPod = await c.runPod(cli);
  // The client waits for the go-ahead, given once the agent lists both containers.
  const cliId = await c.runContainer(cliPod, cli, { name: 'client', command: ['sh', '-c', `until [ -e /go/go ]; do sleep 0.1; done; for i in 1 2 3; do wget -q -O /dev/null http://127.0.0.1:${port}/index.html; done; sleep 600`], mounts: [[go, '/go']] });

  // Ground truth: containerd's own answers.
  const listed = (await c.cri.listContainers()).filter((x) => x.state === 'CONTAINER_RUNNING').map((x) => x.id).sort();
  assert.deepEqual(listed, [webId, cliId].sort());
  const ctrImage = (id: string): string => (JSON.parse(c.ctr(['containers', 'info', id])) as { Image: string }).Image;
  assert.equal(ctrImage(webId), c.image);
  assert.equal(ctrImage(cliId), c.image);
  const webPid = await c.pid(webId);
  const cliPid = await c.pid(cliId);
  assert.equal(cgroupV2(webPid), `${web.cgroupParent}/${webId}`, 'kubelet-style cgroup parent (cgroupfs driver)');
  assert.equal(cgroupV2(cliPid), `/k8s.io/${cliId}`, "containerd's layout without a cgroup parent");

  // The agent's lookup on a cache miss (a filtered ListContainers, the sandbox's status), here on
  // its own: a fresh client that never listed.
  const fresh = new CriRuntime('containerd', c.socket, pino({ level: 'silent' }));
  try {
    fresh.lookup('0'.repeat(64));
    await waitFor(() => fresh.status.state === 'connected', 3000, 'containerd answering that it has no such container');
    assert.equal(fresh.container('0'.repeat(64)), undefined);
    fresh.lookup(webId);
    const looked = await waitFor(() => fresh.container(webId), 3000, 'the lookup of the web container');
    assert.deepEqual({ ...looked, labels: undefined }, { id: webId, name: 'web', image: c.image, version: '1.35', labels: undefined, ips: [], runtime: 'containerd', pod: { name: web.name, namespace: ns, uid: web.uid } });
    assert.equal(looked?.labels['io.kubernetes.container.name'], 'web');
  } finally {
    fresh.close();
  }

  await waitFor(async () => (await criCaps())[0]?.containers === 2, 10_000, 'the agent listing both containers');
  writeFileSync(join(go, 'go'), '');

  const client = await waitForEdge(agent!.url, (e) => e.role === 'client' && e.port === port && e.connections.closed === 3, 15_000, "the client container's edge");
  assert.equal(client.local.container, 'client');
  assert.equal(client.local.container_id, cliId);
  assert.equal(client.local.runtime, 'containerd');
  assert.equal(client.local.image, c.image);
  assert.equal(client.local.version, '1.35');
  assert.equal(client.local.pod, cli.name);
  assert.equal(client.local.namespace, ns);
  assert.equal(client.local.pod_uid, cli.uid);
  const server = await waitForEdge(agent!.url, (e) => e.role === 'server' && e.port === port && e.connections.closed === 3, 5000, "the server container's edge");
  assert.equal(server.local.container, 'web');
  assert.equal(server.local.container_id, webId);
  assert.equal(server.local.image, c.image);
  assert.equal(server.local.pod, web.name);
  assert.equal(server.local.namespace, ns);
  assert.equal(server.local.pod_uid, web.uid, 'from the cgroup path and CRI alike');
  const httpd = server.local.processes[0];
  assert.equal(httpd?.pid, webPid, 'host pid, as containerd reports it');
  assert.equal(httpd?.nsPid, 1, "httpd is its container's init");
  assert.match(httpd?.cmdline ?? '', /^httpd -f -p 127\.0\.0\.1:/);

  const m = await agent!.scrape();
  assert.equal(m.sum('flowscope_tcp_connections_closed_total', { role: 'client', container: 'client', pod: cli.name, namespace: ns, port: String(port) }), 3);
  assert.equal(m.sum('flowscope_tcp_connections_closed_total', { role: 'server', container: 'web', pod: web.name, namespace: ns, port: String(port) }), 3);
  const [cri] = await criCaps();
  assert.deepEqual({ runtime: cri?.runtime, socket: cri?.socket, state: cri?.state, containers: cri?.containers }, { runtime: 'containerd', socket: c.socket, state: 'connected', containers: 2 });
  assert.match(cri?.version ?? '', /^containerd 1\.\d+.* \(CRI v1\)$/);

  // Removed through CRI: the agent forgets it at its next list.
  await c.cri.call('StopContainer', { container_id: cliId, timeout: 0 });
  await c.cri.call('RemoveContainer', { container_id: cliId });
  await waitFor(async () => (await criCaps())[0]?.containers === 1, 10_000, 'the agent dropping the removed container');
  assert.equal(agent!.stderr().match(/did not answer as expected/g)?.length, 1, 'no warning but the one from before containerd started');
});
