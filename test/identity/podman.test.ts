// Real containers with Podman (runc, an image imported from Debian's busybox-static): a client
// container connects to a server container; both ends of both edges carry the containers' names
// (labels) and images (/connections), taken from Podman's API over its unix socket.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync, rmSync, copyFileSync, symlinkSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { startAgent, type RunningAgent } from '../support/agent.js';
import { commandExists, sh, waitFor } from '../support/run.js';
import { randomHex, waitForEdge } from './support.js';

const BUSYBOX = '/bin/busybox';
const present = commandExists('podman') && commandExists('runc') && existsSync(BUSYBOX);
const tag = randomHex(3);
const dir = join(tmpdir(), `fsid-podman-${tag}`);
const env = { ...process.env, CONTAINERS_CONF: join(dir, 'containers.conf') };
const image = `localhost/fsid-busybox-${tag}:1.35`;
const net = `fsidnet${tag}`;
const subnet = `10.89.${Math.floor(Math.random() * 200) + 20}`;
const srvName = `fsid-srv-${tag}`;
const cliName = `fsid-cli-${tag}`;
const socket = join(dir, 'podman.sock');
let service: ChildProcess | undefined;
let agent: RunningAgent | undefined;
let bridge = '';

/** Runs podman with the test's containers.conf; throws with its stderr unless `allowFail`. */
function podman(args: string[], allowFail = false): string {
  const r = spawnSync('podman', args, { env, encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0 && !allowFail) throw new Error(`podman ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout ?? '';
}

before(async () => {
  if (!present) return;
  mkdirSync(join(dir, 'rootfs/bin'), { recursive: true });
  mkdirSync(join(dir, 'rootfs/www'), { recursive: true });
  // TESTBED: runc (hybrid cgroups), cgroupfs manager, lowered ulimits.
  writeFileSync(env.CONTAINERS_CONF, `[containers]\ndefault_ulimits = ["nofile=20000:20000","nproc=4096:4096"]\n[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n`);
  copyFileSync(BUSYBOX, join(dir, 'rootfs/bin/busybox'));
  for (const a of ['sh', 'httpd', 'wget', 'sleep']) symlinkSync('busybox', join(dir, `rootfs/bin/${a}`));
  writeFileSync(join(dir, 'rootfs/www/index.html'), 'hello from the server container\n');
  sh('tar', ['-C', join(dir, 'rootfs'), '-cf', join(dir, 'rootfs.tar'), '.']);
  podman(['import', join(dir, 'rootfs.tar'), image]);
  podman(['network', 'create', '--subnet', `${subnet}.0/24`, net]);
  bridge = JSON.parse(podman(['network', 'inspect', net]))[0]?.network_interface ?? '';
  service = spawn('podman', ['system', 'service', '--time=0', `unix://${socket}`], { env, stdio: 'ignore' });
  await waitFor(() => existsSync(socket), 10_000, 'the podman API socket');
  // --process-args: the command lines below are checked (redacted, nothing secret in them).
  agent = await startAgent(['--runtime-socket', `podman=${socket}`, '--process-args']);
});

after(async () => {
  if (!present) return;
  await agent?.stop();
  podman(['rm', '-f', '-t', '0', srvName, cliName], true);
  podman(['network', 'rm', '-f', net], true);
  podman(['rmi', '-f', image], true);
  if (service?.pid) service.kill('SIGTERM');
  if (bridge) sh('ip', ['link', 'del', bridge], { allowFail: true });
  // CNI's shared firewall chains: removed only when no other CNI network device is left.
  const others = sh('ip', ['-o', 'link', 'show'], { allowFail: true }).split('\n').some((l) => /\scni-podman\d+/.test(l) || /\scni\d+/.test(l));
  if (!others) {
    sh('iptables', ['-D', 'FORWARD', '-m', 'comment', '--comment', 'CNI firewall plugin rules', '-j', 'CNI-FORWARD'], { allowFail: true });
    for (const c of ['CNI-FORWARD', 'CNI-ADMIN']) {
      sh('iptables', ['-F', c], { allowFail: true });
      sh('iptables', ['-X', c], { allowFail: true });
    }
  }
  rmSync(dir, { recursive: true, force: true });
  rmSync(`/var/lib/cni/networks/${net}`, { recursive: true, force: true });
});

test('client container → server container: container names on both ends of both edges, images in /connections', { skip: present ? false : 'podman, runc or busybox-static is not installed (scripts/setup.sh --test installs them)' }, async () => {
  const srvId = podman(['run', '-d', '--name', srvName, '--network', net, image, 'httpd', '-f', '-p', '8080', '-h', '/www']).trim();
  const srvIp = JSON.parse(podman(['inspect', srvName]))[0].NetworkSettings.Networks[net].IPAddress as string;
  assert.match(srvIp, new RegExp(`^${subnet.replace(/\./g, '\\.')}\\.`));
  // The client waits until the agent's runtime view has it (it re-lists running containers every 2 s).
  const cliId = podman(['run', '-d', '--name', cliName, '--network', net, image, 'sh', '-c', `sleep 3; for i in 1 2 3; do wget -q -O /dev/null http://${srvIp}:8080/index.html; done; sleep 60`]).trim();
  const cliIp = JSON.parse(podman(['inspect', cliName]))[0].NetworkSettings.Networks[net].IPAddress as string;
  const client = await waitForEdge(agent!.url, (e) => e.role === 'client' && e.peer.addr === srvIp && e.port === 8080 && e.connections.closed === 3, 15_000, 'the client container\'s edge');
  assert.equal(client.local.container, cliName);
  assert.equal(client.local.container_id, cliId);
  assert.equal(client.local.runtime, 'podman');
  assert.equal(client.local.image, image);
  assert.equal(client.local.version, '1.35');
  assert.equal(client.peer.container, srvName);
  assert.equal(client.peer.image, image);
  const server = await waitForEdge(agent!.url, (e) => e.role === 'server' && e.port === 8080 && e.peer.addr === cliIp && e.connections.closed === 3, 5000, 'the server container\'s edge');
  assert.equal(server.local.container, srvName);
  assert.equal(server.local.container_id, srvId);
  assert.equal(server.local.image, image);
  assert.equal(server.peer.container, cliName);
  // httpd lives on (wget, the client, may be gone before its /proc entry is read: process details are best effort).
  const httpd = server.local.processes[0];
  assert.equal(httpd?.exe, '/bin/busybox');
  assert.match(httpd?.cmdline ?? '', /^httpd -f -p 8080/);
  const hostPid = Number(JSON.parse(podman(['inspect', srvName]))[0].State.Pid);
  assert.equal(httpd?.pid, hostPid, 'host pid');
  assert.equal(httpd?.nsPid, 1, 'in-container pid: httpd is the container\'s init');
  const m = await agent!.scrape();
  assert.equal(m.sum('flowscope_tcp_connections_closed_total', { role: 'client', container: cliName, peer_container: srvName, port: '8080' }), 3);
  assert.equal(m.sum('flowscope_tcp_connections_closed_total', { role: 'server', container: srvName, peer_container: cliName, port: '8080' }), 3);
  const caps = await agent!.json<{ identity: { containers: { runtimes: Array<{ runtime: string; state: string }> } } }>('/capabilities');
  assert.deepEqual(caps.identity.containers.runtimes.map((r) => [r.runtime, r.state]), [['podman', 'connected']]);
});
