// The per-workload switch: requests of a cgroup switched off are not captured (the kernel decides
// when the connection first carries data), while the same requests from elsewhere are.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { features } from '../../src/bpf/index.js';
import { startL7, startNginx, curl, type Nginx, type RunningL7 } from './support.js';

const root = features.cgroup2Root();
const name = `fs-l7-off-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
const dir = join(root, name);
let nginx: Nginx;
let l7: RunningL7;

before(async () => {
  nginx = await startNginx();
  mkdirSync(dir);
  l7 = startL7({ switch: [`off:cgroup=/fs-l7-off-*`], cgroupRoot: root });
});
after(async () => {
  l7?.stop();
  await nginx?.stop();
  if (existsSync(dir)) rmdirSync(dir);
});

test('a cgroup switched off is not captured; the same requests from another cgroup are', async () => {
  await l7.metrics(); // an interval: the switch is written for the cgroups that exist
  const url = `http://127.0.0.1:${nginx.port}/users/5`;
  // curl inside the switched-off cgroup (the shell moves itself there, then becomes curl)
  const inside = execFileSync('sh', ['-c', `echo $$ > ${join(dir, 'cgroup.procs')} && exec curl -s -w '%{http_code}\\n' -o /dev/null ${url} -o /dev/null ${url} -o /dev/null ${url}`], { encoding: 'utf8' });
  assert.deepEqual(inside.trim().split('\n').map(Number), [200, 200, 200]);
  assert.deepEqual(curl([url, url]), [200, 200]);
  const port = String(nginx.port);
  const m = await l7.waitFor((m) => m.sum('flowscope_http_requests_total', { port, role: 'client' }) >= 2 && m.sum('flowscope_http_requests_total', { port, role: 'server' }) >= 5, 5000, 'the requests from outside the cgroup');
  assert.equal(m.sum('flowscope_http_requests_total', { port, role: 'client' }), 2, 'only the client outside the switched-off cgroup');
  assert.equal(m.sum('flowscope_http_requests_total', { port, role: 'client', cgroup: `/${name}` }), 0);
  assert.equal(m.sum('flowscope_http_requests_total', { port, role: 'server' }), 5, 'nginx (not switched off) sees all five');
  assert.equal(l7.monitor.capabilities(false).switch.cgroupsSwitched >= 1, true);
});
