// Search among the nodes on hand (name, id, label values and addresses), best first: exact, then
// prefix, then substring; names before labels. The hub's search adds nodes of other views.
import type { GraphNode } from './api-types.js';
import { matchScore as score } from '../../model/text-match.js';

export interface LocalHit {
  id: string;
  name: string;
  kind: string;
  match: string;
  score: number;
}

export function searchNodes(nodes: Iterable<GraphNode>, query: string, limit = 20): LocalHit[] {
  const q = query.trim().toLowerCase();
  if (!q) return [];
  const hits: LocalHit[] = [];
  for (const n of nodes) {
    let best: LocalHit | null = null;
    const offer = (value: string, s: number): void => {
      if (s > 0 && (!best || s > best.score)) best = { id: n.id, name: n.name, kind: n.kind, match: value, score: s };
    };
    offer(n.name, score(n.name, q, 100));
    offer(n.id, score(n.id, q, 90));
    for (const [k, v] of Object.entries(n.labels)) {
      for (const part of v.split(',')) offer(`${k}=${part}`, Math.max(score(part, q, 70), score(`${k}=${part}`, q, 70)));
    }
    if (best) hits.push(best);
  }
  return hits.sort((a, b) => b.score - a.score || a.name.length - b.name.length || a.id.localeCompare(b.id)).slice(0, limit);
}
