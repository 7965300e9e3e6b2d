// deploy/: the plain manifests and the Helm chart, validated offline against the Kubernetes
// OpenAPI schemas (npm kubernetes-models: validators generated from the Kubernetes API's own
// schema), kept equal to each other, and holding to the least-privilege rules the issue sets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { DaemonSet } from 'kubernetes-models/apps/v1';
import { repoPath } from '../../src/lib/paths.js';
import { renderTemplate, type HelmContext } from './helm-template.js';
import { manifest, parseDocs, renderChart, validate, type K8sObject } from './deploy-support.js';

test('the schema check has teeth: a DaemonSet with a wrong field type is rejected', () => {
  const bad = structuredClone(manifest().find((o) => o.kind === 'DaemonSet')!) as any;
  bad.spec.template.spec.hostPID = 'yes';
  assert.throws(() => new DaemonSet(bad).validate());
  const noSelector = structuredClone(manifest().find((o) => o.kind === 'DaemonSet')!) as any;
  delete noSelector.spec.selector;
  assert.throws(() => new DaemonSet(noSelector).validate(), 'selector is required');
});

test('deploy/kubernetes/flowscope.yaml is valid against the Kubernetes schemas', () => {
  const objs = manifest();
  assert.deepEqual(objs.map((o) => o.kind), ['Namespace', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'ClusterRole', 'ClusterRoleBinding', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding', 'DaemonSet']);
  validate(objs, 'deploy/kubernetes/flowscope.yaml');
});

test('the Helm chart renders (defaults and with a runtime socket) to valid objects, equal to the plain manifest by default', () => {
  const all = renderChart();
  validate(all, 'chart (defaults)');
  // The endpoint's Secrets are generated (at installation by the chart, by endpoint-secrets.sh for the manifest).
  const rendered = all.filter((o) => o.kind !== 'Secret');
  assert.deepEqual(all.filter((o) => o.kind === 'Secret').map((o) => o.metadata.name), ['flowscope-web', 'flowscope-scrape']);
  const plain = manifest().filter((o) => o.kind !== 'Namespace');
  const byKind = (l: K8sObject[]): K8sObject[] => [...l].sort((a, b) => `${a.kind}/${a.metadata.name}`.localeCompare(`${b.kind}/${b.metadata.name}`));
  assert.deepEqual(byKind(rendered), byKind(plain), 'chart defaults and deploy/kubernetes/flowscope.yaml say the same');
  const withSocket = renderChart({ runtimeSocket: '/run/docker.sock' });
  validate(withSocket, 'chart (runtimeSocket)');
  const ds = withSocket.find((o) => o.kind === 'DaemonSet') as any;
  assert.ok(ds.spec.template.spec.containers[0].args.includes('--runtime-socket=docker=/run/docker.sock'));
  assert.equal(ds.spec.template.spec.volumes.find((v: any) => v.name === 'runtime-socket').hostPath.type, 'Socket');
});

test('the Helm chart installs the BpfProgram CRD (crds/), the same file as deploy/crds, valid against the schema', () => {
  const dir = repoPath('deploy/helm/flowscope/crds');
  const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
  assert.deepEqual(files, ['bpfprogram.yaml']);
  const inChart = readFileSync(`${dir}/bpfprogram.yaml`, 'utf8');
  assert.equal(inChart, readFileSync(repoPath('deploy/crds/bpfprogram.yaml'), 'utf8'), 'one CRD, not a copy that can drift');
  const crds = parseDocs(inChart, 'chart crds/bpfprogram.yaml');
  assert.deepEqual(crds.map((o) => `${o.kind}/${o.metadata.name}`), ['CustomResourceDefinition/bpfprograms.flowscope.io']);
  validate(crds, 'chart crds/bpfprogram.yaml');
  // The agent's RBAC in the chart reads exactly this resource.
  const role = renderChart().find((o) => o.kind === 'ClusterRole' && o.metadata.name === 'flowscope') as any;
  assert.ok(role.rules.some((r: any) => r.apiGroups.includes('flowscope.io') && r.resources.includes('bpfprograms')));
});

test('least privilege: not privileged, capabilities dropped then only the documented ones added, read-only RBAC, probes and limits', () => {
  const objs = manifest();
  const ds = objs.find((o) => o.kind === 'DaemonSet') as any;
  const c = ds.spec.template.spec.containers[0];
  assert.equal(c.securityContext.privileged, false);
  assert.equal(c.securityContext.allowPrivilegeEscalation, false);
  assert.equal(c.securityContext.readOnlyRootFilesystem, true);
  assert.deepEqual(c.securityContext.capabilities.drop, ['ALL']);
  const readme = readFileSync(repoPath('deploy/README.md'), 'utf8');
  for (const cap of c.securityContext.capabilities.add as string[]) {
    assert.notEqual(cap, 'SYS_ADMIN', 'CAP_SYS_ADMIN is not needed');
    assert.match(readme, new RegExp(`\\| \`CAP_${cap}\` \\|`), `deploy/README.md gives the reason for CAP_${cap}`);
  }
  for (const m of c.volumeMounts) if (m.name !== 'tmp') assert.equal(m.readOnly, true, `${m.name} is mounted read-only`);
  assert.equal(c.livenessProbe.httpGet.path, '/healthz');
  assert.ok(c.resources.requests.cpu && c.resources.requests.memory && c.resources.limits.memory && c.resources.limits.cpu);
  const role = objs.find((o) => o.kind === 'ClusterRole' && o.metadata.name === 'flowscope') as any;
  // Read only, except the status of BpfProgram resources (the agent reports whether they loaded).
  for (const r of role.rules) assert.deepEqual(r.verbs, r.resources.includes('bpfprograms/status') ? ['patch'] : ['get', 'list', 'watch']);
  const resources = role.rules.flatMap((r: any) => r.resources).sort();
  assert.deepEqual(resources, ['bpfprograms', 'bpfprograms/status', 'endpointslices', 'jobs', 'nodes', 'pods', 'replicasets', 'services'], 'exactly what the agent watches');
});

test('the templater refuses what it does not understand', () => {
  const ctx: HelmContext = { Values: { a: 1 }, Release: { Name: 'r', Namespace: 'n' }, Chart: { Name: 'c', AppVersion: '1' } };
  assert.equal(renderTemplate('x: {{ .Values.a | quote }}\n{{- if .Values.b }}\ny: 1\n{{- end }}\n', ctx), 'x: "1"\n');
  assert.throws(() => renderTemplate('{{ range .Values.a }}{{ end }}', ctx), /unsupported/);
  assert.throws(() => renderTemplate('{{ .Values.missing }}', ctx), /not set/);
});
