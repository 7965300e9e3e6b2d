// Views: how endpoints group into the nodes of a graph (process, container, pod, workload,
// service, namespace, node, zone, or any workload label). An endpoint that lacks the view's field
// (a host process in the pod view) stays as the finest thing it is, and its node's kind says so.
import type { Endpoint } from './endpoint.js';

export const VIEW_KINDS = ['process', 'container', 'pod', 'workload', 'service', 'namespace', 'node', 'zone'] as const;
export type ViewKind = (typeof VIEW_KINDS)[number];
export type View = { kind: ViewKind } | { kind: 'label'; key: string };

export class ViewError extends Error {
  override name = 'ViewError';
}

export function parseView(text: string): View {
  if ((VIEW_KINDS as readonly string[]).includes(text)) return { kind: text as ViewKind };
  const m = /^label:(.+)$/.exec(text);
  if (m && m[1]!.length <= 253) return { kind: 'label', key: m[1]! };
  throw new ViewError(`'${text}' is not a view: use one of ${VIEW_KINDS.join(', ')} or label:KEY (e.g. label:app)`);
}

export function viewName(v: View): string {
  return v.kind === 'label' ? `label:${v.key}` : v.kind;
}

/** Which views are finer than a node (their nodes carry node and zone labels). */
const FINER_THAN_NODE: ReadonlySet<string> = new Set(['process', 'container', 'pod']);

export interface NodeRef {
  id: string;
  /** What the node is: the view's kind, or a finer one when the endpoint lacks the view's field. */
  kind: string;
  name: string;
}

function qualified(ns: string, name: string): string {
  return ns ? `${ns}/${name}` : name;
}

function external(e: Endpoint): NodeRef {
  const name = e.dns || e.addr || 'unknown';
  return { id: `external:${name}`, kind: 'external', name };
}

function processRef(e: Endpoint): NodeRef {
  if (e.kind === 'external') return external(e);
  if (e.kind === 'peer') return peerRef(e);
  const owner = e.pod ? qualified(e.namespace, e.pod) : e.container || e.cgroup;
  return { id: `process:${e.node}/${owner ? `${owner}/` : ''}${e.process}`, kind: 'process', name: e.process || '(unknown process)' };
}

/** A peer only the reporting agent named: its finest name. */
function peerRef(e: Endpoint): NodeRef {
  if (e.pod) return { id: `pod:${qualified(e.namespace, e.pod)}`, kind: 'pod', name: e.pod };
  if (e.workload) return { id: `workload:${qualified(e.namespace, e.workload)}`, kind: 'workload', name: e.workload };
  if (e.service) return { id: `service:${qualified(e.namespace, e.service)}`, kind: 'service', name: e.service };
  if (e.container) return { id: `container:${e.node}/${e.container}`, kind: 'container', name: e.container };
  return external(e);
}

function containerRef(e: Endpoint): NodeRef {
  if (e.kind === 'external') return external(e);
  if (e.container && e.kind === 'process') return { id: `container:${e.node}/${e.container}`, kind: 'container', name: e.container };
  if (e.kind === 'peer') return peerRef(e);
  return processRef(e);
}

function podRef(e: Endpoint): NodeRef {
  if (e.pod) return { id: `pod:${qualified(e.namespace, e.pod)}`, kind: 'pod', name: e.pod };
  return containerRef(e);
}

function workloadRef(e: Endpoint): NodeRef {
  if (e.workload) return { id: `workload:${qualified(e.namespace, e.workload)}`, kind: 'workload', name: e.workload };
  return podRef(e);
}

function serviceRef(e: Endpoint): NodeRef {
  if (e.service) return { id: `service:${qualified(e.namespace, e.service)}`, kind: 'service', name: e.service };
  return workloadRef(e);
}

function nodeRef(e: Endpoint): NodeRef {
  if (e.node) return { id: `node:${e.node}`, kind: 'node', name: e.node };
  return e.kind === 'peer' ? peerRef(e) : external(e);
}

function namespaceRef(e: Endpoint): NodeRef {
  if (e.namespace) return { id: `namespace:${e.namespace}`, kind: 'namespace', name: e.namespace };
  return nodeRef(e);
}

function zoneRef(e: Endpoint): NodeRef {
  if (e.zone) return { id: `zone:${e.zone}`, kind: 'zone', name: e.zone };
  return nodeRef(e);
}

export function nodeOf(e: Endpoint, view: View): NodeRef {
  switch (view.kind) {
    case 'process':
      return processRef(e);
    case 'container':
      return containerRef(e);
    case 'pod':
      return podRef(e);
    case 'workload':
      return workloadRef(e);
    case 'service':
      return serviceRef(e);
    case 'namespace':
      return namespaceRef(e);
    case 'node':
      return nodeRef(e);
    case 'zone':
      return zoneRef(e);
    case 'label': {
      const v = e.labels[view.key];
      if (v !== undefined) return { id: `label:${view.key}=${v}`, kind: 'label', name: `${view.key}=${v}` };
      return workloadRef(e);
    }
  }
}

/** The labels of an endpoint that a node of `view` shows (node and zone only where the view is finer than a node). */
export function endpointLabels(e: Endpoint, view: View, kind: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(e.labels)) out[k] = v;
  const put = (k: string, v: string): void => {
    if (v) out[k] = v;
  };
  put('namespace', e.namespace);
  if (view.kind !== 'namespace') {
    put('workload', e.workload);
    put('workload_kind', e.workloadKind);
    put('service', e.service);
    put('image', e.image);
    put('version', e.version);
  }
  if (FINER_THAN_NODE.has(kind) || FINER_THAN_NODE.has(view.kind) || kind === 'workload' || kind === 'service' || kind === 'label') {
    put('node', e.node);
    put('zone', e.zone);
  } else if (view.kind === 'node' || kind === 'node') put('zone', e.zone);
  if (kind === 'process' || kind === 'container' || kind === 'pod') {
    put('pod', e.pod);
    put('container', e.container);
  }
  if (kind === 'process') put('process', e.process);
  if (e.kind !== 'process') put('address', e.addr);
  if (e.dns) put('dns', e.dns);
  return out;
}
