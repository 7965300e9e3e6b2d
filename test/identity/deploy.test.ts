// deploy/: the plain manifests and the Helm chart, validated offline against the Kubernetes
// OpenAPI schemas (npm kubernetes-models: validators generated from the Kubernetes API's own
// schema), kept equal to each other, and holding to the least-privilege rules the issue sets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import YAML from 'yaml';
import { Namespace, ServiceAccount } from 'kubernetes-models/v1';
import { DaemonSet } from 'kubernetes-models/apps/v1';
import { ClusterRole, ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { CustomResourceDefinition } from 'kubernetes-models/apiextensions.k8s.io/v1';
import { repoPath } from '../../src/lib/paths.js';
import { renderTemplate, type HelmContext } from './helm-template.js';

type K8sObject = { apiVersion: string; kind: string; metadata: { name: string }; [k: string]: unknown };
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/ServiceAccount': ServiceAccount,
  'apps/v1/DaemonSet': DaemonSet,
  'rbac.authorization.k8s.io/v1/ClusterRole': ClusterRole,
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': ClusterRoleBinding,
  'apiextensions.k8s.io/v1/CustomResourceDefinition': CustomResourceDefinition,
};

function parseDocs(text: string, where: string): K8sObject[] {
  return YAML.parseAllDocuments(text)
    .map((d) => {
      if (d.errors.length) throw new Error(`${where}: ${d.errors[0]!.message}`);
      return d.toJS() as K8sObject | null;
    })
    .filter((o): o is K8sObject => o !== null);
}

function validate(objects: K8sObject[], where: string): void {
  for (const o of objects) {
    const Model = MODELS[`${o.apiVersion}/${o.kind}`];
    assert.ok(Model, `${where}: ${o.apiVersion} ${o.kind} has no schema here (add it to MODELS)`);
    assert.doesNotThrow(() => new Model(o as never).validate(), `${where}: ${o.kind}/${o.metadata.name} fails the Kubernetes schema`);
  }
}

function renderChart(values: Record<string, unknown> = {}): K8sObject[] {
  const dir = repoPath('deploy/helm/flowscope');
  const chart = YAML.parse(readFileSync(`${dir}/Chart.yaml`, 'utf8')) as { name: string; appVersion: string };
  const defaults = YAML.parse(readFileSync(`${dir}/values.yaml`, 'utf8')) as Record<string, unknown>;
  const ctx: HelmContext = { Values: { ...defaults, ...values }, Release: { Name: 'flowscope', Namespace: 'flowscope' }, Chart: { Name: chart.name, AppVersion: chart.appVersion } };
  return readdirSync(`${dir}/templates`)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .flatMap((f) => parseDocs(renderTemplate(readFileSync(`${dir}/templates/${f}`, 'utf8'), ctx), `chart template ${f}`));
}

const manifest = (): K8sObject[] => parseDocs(readFileSync(repoPath('deploy/kubernetes/flowscope.yaml'), 'utf8'), 'deploy/kubernetes/flowscope.yaml');

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
  assert.deepEqual(objs.map((o) => o.kind), ['Namespace', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'DaemonSet']);
  validate(objs, 'deploy/kubernetes/flowscope.yaml');
});

test('the Helm chart renders (defaults and with a runtime socket) to valid objects, equal to the plain manifest by default', () => {
  const rendered = renderChart();
  validate(rendered, 'chart (defaults)');
  const plain = manifest().filter((o) => o.kind !== 'Namespace');
  const byKind = (l: K8sObject[]): K8sObject[] => [...l].sort((a, b) => a.kind.localeCompare(b.kind));
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
  const role = renderChart().find((o) => o.kind === 'ClusterRole') as any;
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
  const role = objs.find((o) => o.kind === 'ClusterRole') as any;
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
