// Reading deploy/: the plain manifests and the Helm chart rendered offline, validated against the
// Kubernetes OpenAPI schemas (npm kubernetes-models).
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import YAML from 'yaml';
import { Namespace, Secret, ServiceAccount } from 'kubernetes-models/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding } from 'kubernetes-models/admissionregistration.k8s.io/v1';
import { DaemonSet } from 'kubernetes-models/apps/v1';
import { ClusterRole, ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { CustomResourceDefinition } from 'kubernetes-models/apiextensions.k8s.io/v1';
import { repoPath } from '../../src/lib/paths.js';
import { renderTemplate, type HelmContext } from './helm-template.js';

export type K8sObject = { apiVersion: string; kind: string; metadata: { name: string }; [k: string]: unknown };
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/ServiceAccount': ServiceAccount,
  'v1/Secret': Secret,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy': ValidatingAdmissionPolicy,
  'admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBinding': ValidatingAdmissionPolicyBinding,
  'apps/v1/DaemonSet': DaemonSet,
  'rbac.authorization.k8s.io/v1/ClusterRole': ClusterRole,
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': ClusterRoleBinding,
  'apiextensions.k8s.io/v1/CustomResourceDefinition': CustomResourceDefinition,
};

export function parseDocs(text: string, where: string): K8sObject[] {
  return YAML.parseAllDocuments(text)
    .map((d) => {
      if (d.errors.length) throw new Error(`${where}: ${d.errors[0]!.message}`);
      return d.toJS() as K8sObject | null;
    })
    .filter((o): o is K8sObject => o !== null);
}

export function validate(objects: K8sObject[], where: string): void {
  for (const o of objects) {
    const Model = MODELS[`${o.apiVersion}/${o.kind}`];
    assert.ok(Model, `${where}: ${o.apiVersion} ${o.kind} has no schema here (add it to MODELS)`);
    assert.doesNotThrow(() => new Model(o as never).validate(), `${where}: ${o.kind}/${o.metadata.name} fails the Kubernetes schema`);
  }
}

export function renderChart(values: Record<string, unknown> = {}): K8sObject[] {
  const dir = repoPath('deploy/helm/flowscope');
  const chart = YAML.parse(readFileSync(`${dir}/Chart.yaml`, 'utf8')) as { name: string; appVersion: string };
  const defaults = YAML.parse(readFileSync(`${dir}/values.yaml`, 'utf8')) as Record<string, unknown>;
  const ctx: HelmContext = { Values: { ...defaults, ...values }, Release: { Name: 'flowscope', Namespace: 'flowscope' }, Chart: { Name: chart.name, AppVersion: chart.appVersion } };
  return readdirSync(`${dir}/templates`)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .flatMap((f) => parseDocs(renderTemplate(readFileSync(`${dir}/templates/${f}`, 'utf8'), ctx), `chart template ${f}`));
}

export const manifest = (): K8sObject[] => parseDocs(readFileSync(repoPath('deploy/kubernetes/flowscope.yaml'), 'utf8'), 'deploy/kubernetes/flowscope.yaml');

