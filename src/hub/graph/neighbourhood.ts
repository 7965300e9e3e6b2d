// Every node within N hops of a node, edges followed either way, and the edges among them.
import type { ViewEdge, ViewGraph } from './graph.js';

export interface Neighbourhood {
  /** Node id to its distance in hops. */
  distance: Map<string, number>;
  edges: ViewEdge[];
}

export function neighbourhood(g: ViewGraph, start: string, hops: number): Neighbourhood {
  const adjacent = new Map<string, ViewEdge[]>();
  const link = (id: string, e: ViewEdge): void => {
    let list = adjacent.get(id);
    if (!list) adjacent.set(id, (list = []));
    list.push(e);
  };
  for (const e of g.edges.values()) {
    link(e.source.id, e);
    if (e.target.id !== e.source.id) link(e.target.id, e);
  }
  const distance = new Map<string, number>([[start, 0]]);
  let frontier = [start];
  for (let d = 1; d <= hops && frontier.length; d++) {
    const next: string[] = [];
    for (const id of frontier) {
      for (const e of adjacent.get(id) ?? []) {
        const other = e.source.id === id ? e.target.id : e.source.id;
        if (!distance.has(other)) {
          distance.set(other, d);
          next.push(other);
        }
      }
    }
    frontier = next;
  }
  const edges = [...g.edges.values()].filter((e) => distance.has(e.source.id) && distance.has(e.target.id));
  return { distance, edges };
}
