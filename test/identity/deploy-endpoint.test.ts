// What deploy/ makes of the endpoint and of custom programs, run for real: the Secrets the chart
// generates at installation (and deploy/kubernetes/endpoint-secrets.sh for the plain manifest) serve a
// real agent over TLS with a password only the scraper's Secret holds; the networkPolicy mode admits only
// the scraper; only the author group may write BpfProgram resources; objects load from the read-only
// trusted directory.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoPath } from '../../src/lib/paths.js';
import { parseListen } from '../../src/cli/options.js';
import { loadWebConfig } from '../../src/lib/web-config.js';
import { flowscopeBin } from '../support/paths.js';
import { freePort } from '../support/agent.js';
import { request } from '../support/https.js';
import { runCommand, sleep } from '../support/run.js';
import { manifest, parseDocs, renderChart, validate, type K8sObject } from './deploy-support.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

type SecretObject = K8sObject & { metadata: { name: string; namespace: string; annotations?: Record<string, string> }; stringData: Record<string, string> };

/** Starts the agent with the web Secret's files as the pod would see them; checks the scraper's view. */
async function serveWithSecrets(web: SecretObject, scrape: SecretObject): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'flowscope-deploy-'));
  dirs.push(dir);
  for (const [k, v] of Object.entries(web.stringData)) writeFileSync(join(dir, k), v);
  writeFileSync(join(dir, 'scraper-ca.crt'), scrape.stringData['ca.crt']!);
  const config = loadWebConfig(join(dir, 'web.yml'));
  assert.deepEqual([...config.users.keys()], [scrape.stringData.username]);
  const port = await freePort();
  const proc = spawn(flowscopeBin, ['agent', '--listen', `[127.0.0.1]:${port}`, '--web.config.file', join(dir, 'web.yml'), '--no-flows', '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) => proc.on('close', () => r()));
  const scraper = { ca: join(dir, 'scraper-ca.crt'), servername: scrape.stringData.server_name! };
  try {
    const url = `https://127.0.0.1:${port}`;
    // The kubelet's probe: /healthz without credentials (auth_excluded_paths), certificate not checked.
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`agent exited: ${out}`);
      const r = await request(`${url}/healthz`, scraper).catch(() => undefined);
      if (r?.status === 200) break;
      if (Date.now() > deadline) throw new Error(`agent not healthy: ${out}`);
      await sleep(200);
    }
    const ok = await request(`${url}/metrics`, { ...scraper, auth: `${scrape.stringData.username}:${scrape.stringData.password}` });
    assert.equal(ok.status, 200);
    assert.match(ok.body, /^# HELP flowscope_/m);
    assert.equal((await request(`${url}/metrics`, scraper)).status, 401, 'no credentials');
    assert.equal((await request(`${url}/metrics`, { ...scraper, auth: `${scrape.stringData.username}:guess` })).status, 401, 'wrong password');
    // The certificate is for the agent's name, which the scraper gives as server_name.
    await assert.rejects(request(`${url}/metrics`, { ca: scraper.ca, servername: 'somewhere-else', auth: `${scrape.stringData.username}:${scrape.stringData.password}` }), /altnames|Hostname/i);
  } finally {
    proc.kill('SIGTERM');
    await exited;
  }
}

const secrets = (objs: K8sObject[]): { web: SecretObject; scrape: SecretObject } => ({
  web: objs.find((o) => o.kind === 'Secret' && o.metadata.name === 'flowscope-web') as SecretObject,
  scrape: objs.find((o) => o.kind === 'Secret' && o.metadata.name === 'flowscope-scrape') as SecretObject,
});

test('the chart (mode tls, the default): generated once at installation, the Secrets serve a real agent to the scraper only', async () => {
  const objs = renderChart();
  const { web, scrape } = secrets(objs);
  assert.equal(web.metadata.namespace, 'flowscope');
  assert.equal(scrape.metadata.namespace, 'monitoring', "the scraper's namespace");
  for (const s of [web, scrape]) assert.equal(s.metadata.annotations?.['helm.sh/hook'], 'pre-install', 'not generated again on upgrade');
  assert.ok(!JSON.stringify(web).includes(scrape.stringData.password!), "the password is only in the scraper's Secret (the agent has its bcrypt hash)");
  const again = secrets(renderChart());
  assert.notEqual(again.scrape.stringData.password, scrape.stringData.password, 'a new password per installation');
  const ds = objs.find((o) => o.kind === 'DaemonSet') as any;
  const c = ds.spec.template.spec.containers[0];
  assert.ok(c.args.includes('--web.config.file=/etc/flowscope/web/web.yml'));
  assert.equal(c.livenessProbe.httpGet.scheme, 'HTTPS');
  assert.equal(ds.spec.template.spec.volumes.find((v: any) => v.name === 'web').secret.secretName, 'flowscope-web');
  await serveWithSecrets(web, scrape);
});

test('the plain manifest: deploy/kubernetes/endpoint-secrets.sh makes the same Secrets, valid, and they serve a real agent', async () => {
  const r = await runCommand(repoPath('deploy/kubernetes/endpoint-secrets.sh'), ['observability'], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stderr);
  const objs = parseDocs(r.stdout, 'endpoint-secrets.sh');
  validate(objs, 'endpoint-secrets.sh');
  const { web, scrape } = secrets(objs);
  assert.equal(scrape.metadata.namespace, 'observability');
  const ds = manifest().find((o) => o.kind === 'DaemonSet') as any;
  assert.equal(ds.spec.template.spec.volumes.find((v: any) => v.name === 'web').secret.secretName, web.metadata.name);
  await serveWithSecrets(web, scrape);
});

test('mode networkPolicy: plain HTTP on the node address, a NetworkPolicy admitting only the scraper pods on the port', () => {
  const objs = renderChart({ endpoint: { mode: 'networkPolicy', username: 'prometheus', scraper: { namespace: 'monitoring', podLabels: { 'app.kubernetes.io/name': 'prometheus' } }, enableDetails: false } });
  validate(objs, 'chart (networkPolicy)');
  assert.equal(objs.filter((o) => o.kind === 'Secret').length, 0);
  const np = objs.find((o) => o.kind === 'NetworkPolicy') as any;
  assert.deepEqual(np.spec.podSelector.matchLabels, { 'app.kubernetes.io/name': 'flowscope' });
  assert.deepEqual(np.spec.policyTypes, ['Ingress']);
  assert.equal(np.spec.ingress.length, 1);
  const from = np.spec.ingress[0].from;
  assert.equal(from.length, 1, 'one peer: namespace AND pod selector together');
  assert.deepEqual(from[0].namespaceSelector.matchLabels, { 'kubernetes.io/metadata.name': 'monitoring' });
  assert.deepEqual(from[0].podSelector.matchLabels, { 'app.kubernetes.io/name': 'prometheus' });
  assert.deepEqual(np.spec.ingress[0].ports, [{ protocol: 'TCP', port: 9387 }]);
  const c = (objs.find((o) => o.kind === 'DaemonSet') as any).spec.template.spec.containers[0];
  assert.ok(!c.args.some((a: string) => a.startsWith('--web.config.file')));
  assert.ok(c.args.includes('--listen=[$(NODE_IP)]:9387'), 'the node address, not 0.0.0.0');
  assert.equal(c.env.find((e: any) => e.name === 'NODE_IP').valueFrom.fieldRef.fieldPath, 'status.hostIP');
  // The agent reads that address as given after Kubernetes expands $(NODE_IP), IPv4 or IPv6.
  assert.deepEqual(parseListen('[10.1.2.3]:9387'), { host: '10.1.2.3', port: 9387 });
  assert.deepEqual(parseListen('[fd00::5]:9387'), { host: 'fd00::5', port: 9387 });
});

test('BpfProgram resources: only the author group may write them (RBAC and an admission policy); the agent only reads them and patches status', () => {
  for (const objs of [renderChart(), manifest()]) {
    const authorRole = objs.find((o) => o.kind === 'ClusterRole' && o.metadata.name === 'flowscope-program-author') as any;
    assert.deepEqual(authorRole.rules, [{ apiGroups: ['flowscope.io'], resources: ['bpfprograms'], verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'] }]);
    const binding = objs.find((o) => o.kind === 'ClusterRoleBinding' && o.metadata.name === 'flowscope-program-authors') as any;
    assert.deepEqual(binding.subjects, [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'flowscope-program-authors' }]);
    const policy = objs.find((o) => o.kind === 'ValidatingAdmissionPolicy') as any;
    assert.equal(policy.spec.failurePolicy, 'Fail');
    assert.deepEqual(policy.spec.matchConstraints.resourceRules, [{ apiGroups: ['flowscope.io'], apiVersions: ['*'], operations: ['CREATE', 'UPDATE', 'DELETE'], resources: ['bpfprograms'] }]);
    assert.equal(policy.spec.validations[0].expression, "'flowscope-program-authors' in request.userInfo.groups");
    const pb = objs.find((o) => o.kind === 'ValidatingAdmissionPolicyBinding') as any;
    assert.equal(pb.spec.policyName, policy.metadata.name);
    assert.deepEqual(pb.spec.validationActions, ['Deny']);
    // No other role of the chart may write resources.
    for (const role of objs.filter((o) => o.kind === 'ClusterRole' && o !== authorRole) as any[]) {
      for (const r of role.rules) if (r.resources.includes('bpfprograms')) assert.deepEqual(r.verbs, ['get', 'list', 'watch']);
    }
    const c = (objs.find((o) => o.kind === 'DaemonSet') as any).spec.template.spec.containers[0];
    assert.ok(c.args.includes('--trusted-object-dir=/var/lib/flowscope/programs'));
    assert.ok(!c.args.includes('--allow-object-base64'), 'inline objects are off by default');
    assert.equal(c.volumeMounts.find((m: any) => m.name === 'programs').readOnly, true);
  }
  const group = renderChart({ programs: { authorGroup: 'ebpf-admins', trustedObjectDir: '/opt/bpf', allowObjectBase64: true } });
  assert.equal((group.find((o) => o.kind === 'ValidatingAdmissionPolicy') as any).spec.validations[0].expression, "'ebpf-admins' in request.userInfo.groups");
  assert.ok((group.find((o) => o.kind === 'DaemonSet') as any).spec.template.spec.containers[0].args.includes('--allow-object-base64'));
});
