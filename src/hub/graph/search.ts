// Search: nodes of every view by name, label value or address, best first (exact before prefix
// before substring; names before addresses before labels; shorter before longer).
import type { KnownEndpoint } from '../store/store.js';
import { endpointLabels, nodeOf, VIEW_KINDS, type ViewKind } from './views.js';

export type { SearchHit } from '../../model/api.js';
import type { SearchHit } from '../../model/api.js';
import { matchScore as score } from '../../model/text-match.js';

/** On equal scores, what people look for first: services and workloads before their parts. */
const KIND_RANK: Record<string, number> = { workload: 0, service: 1, namespace: 2, pod: 3, node: 4, zone: 5, container: 6, process: 7, external: 8 };

export function search(endpoints: readonly KnownEndpoint[], query: string, limit = 50): SearchHit[] {
  const q = query.trim().toLowerCase();
  if (!q) return [];
  const best = new Map<string, SearchHit>();
  const offer = (hit: SearchHit): void => {
    const cur = best.get(hit.id);
    if (!cur || hit.score > cur.score) best.set(hit.id, hit);
  };
  for (const { endpoint, addrs } of endpoints) {
    for (const view of VIEW_KINDS) {
      const ref = nodeOf(endpoint, { kind: view });
      // A node named in a coarser view as a finer thing is found under its own view.
      if (ref.kind !== view && ref.kind !== 'external') continue;
      const viewOf: ViewKind | 'process' = ref.kind === 'external' ? 'process' : view;
      const labels = endpointLabels(endpoint, { kind: view }, ref.kind);
      const base = { id: ref.id, kind: ref.kind, name: ref.name, view: viewOf, labels };
      const s = score(ref.name, q, 100);
      if (s > 0) offer({ ...base, match: { field: 'name', value: ref.name }, score: s });
      if (view === 'process' || view === 'pod') {
        for (const a of addrs) {
          const sa = score(a, q, 90);
          if (sa > 0) offer({ ...base, match: { field: 'address', value: a }, score: sa });
        }
      }
      if (view === 'workload' || view === 'pod') {
        for (const [k, v] of Object.entries(endpoint.labels)) {
          const sl = Math.max(score(v, q, 70), score(`${k}=${v}`, q, 70));
          if (sl > 0) offer({ ...base, match: { field: 'label', value: `${k}=${v}` }, score: sl });
        }
      }
    }
  }
  return [...best.values()]
    .sort((a, b) => b.score - a.score || (KIND_RANK[a.kind] ?? 9) - (KIND_RANK[b.kind] ?? 9) || a.name.length - b.name.length || a.id.localeCompare(b.id))
    .slice(0, limit)
    .map((h) => ({ ...h, score: Math.round(h.score * 10) / 10 }));
}
