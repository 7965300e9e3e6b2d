// A layout request as ELK's JSON graph (layered, left to right: clients left of servers; boxes as
// compound nodes laid out with their contents), and ELK's answer as absolute centre positions.
import type { LayoutRequest, Positions } from './placement.js';

export interface ElkNode {
  id: string;
  width?: number;
  height?: number;
  x?: number;
  y?: number;
  children?: ElkNode[];
  edges?: Array<{ id: string; sources: string[]; targets: string[] }>;
  layoutOptions?: Record<string, string>;
}

/** A box's padding: the map draws boxes as their members' bounds plus the same padding, its name in the top part. */
export const BOX_PADDING = '[top=28,left=28,bottom=28,right=28]';

export const ROOT_OPTIONS: Record<string, string> = {
  'elk.algorithm': 'layered',
  'elk.direction': 'RIGHT',
  'elk.hierarchyHandling': 'INCLUDE_CHILDREN',
  'elk.layered.spacing.nodeNodeBetweenLayers': '90',
  'elk.spacing.nodeNode': '26',
  'elk.spacing.componentComponent': '60',
  'elk.layered.considerModelOrder.strategy': 'NODES_AND_EDGES',
  'elk.layered.nodePlacement.strategy': 'BRANDES_KOEPF',
  'elk.separateConnectedComponents': 'true',
  'elk.randomSeed': '1',
};

/** Edges per node ELK is given at most: past that, crossing minimisation costs seconds and a hairball gains nothing from it. */
export const LAYOUT_EDGES_PER_NODE = 3;

/** The edges that shape the layout: all of them on a sparse map, the heaviest on a dense one. */
export function layoutEdges(req: LayoutRequest): LayoutRequest['edges'] {
  const edges = req.edges.filter((e) => e.source !== e.target);
  const cap = Math.max(100, LAYOUT_EDGES_PER_NODE * req.nodes.length);
  if (edges.length <= cap) return edges;
  return [...edges].sort((a, b) => b.weight - a.weight || a.id.localeCompare(b.id)).slice(0, cap);
}

export function toElk(req: LayoutRequest): ElkNode {
  const byParent = new Map<string | null, ElkNode[]>();
  const push = (parent: string | null, n: ElkNode): void => {
    const list = byParent.get(parent);
    if (list) list.push(n);
    else byParent.set(parent, [n]);
  };
  // Sorted input: the same graph gives the same picture (a copied link reproduces the view).
  for (const n of [...req.nodes].sort((a, b) => a.id.localeCompare(b.id))) push(n.parent, { id: n.id, width: n.w, height: n.h });
  const boxes = [...req.boxes].sort((a, b) => a.id.localeCompare(b.id));
  for (const b of boxes) push(b.parent, { id: b.id, layoutOptions: { 'elk.padding': BOX_PADDING } });
  const attach = (n: ElkNode): ElkNode => {
    const kids = byParent.get(n.id);
    if (kids) n.children = kids.map(attach);
    return n;
  };
  const root: ElkNode = { id: '__root', layoutOptions: ROOT_OPTIONS, children: (byParent.get(null) ?? []).map(attach) };
  root.edges = layoutEdges(req)
    .sort((a, b) => a.id.localeCompare(b.id))
    .map((e) => ({ id: e.id, sources: [e.source], targets: [e.target] }));
  return root;
}

/** Centres of the request's nodes (not boxes) in the root's coordinates. */
export function fromElk(root: ElkNode, req: LayoutRequest): Positions {
  const wanted = new Set(req.nodes.map((n) => n.id));
  const out: Positions = new Map();
  const walk = (n: ElkNode, ox: number, oy: number): void => {
    const x = ox + (n.x ?? 0);
    const y = oy + (n.y ?? 0);
    if (wanted.has(n.id)) out.set(n.id, { x: x + (n.width ?? 0) / 2, y: y + (n.height ?? 0) / 2 });
    for (const c of n.children ?? []) walk(c, x, y);
  };
  for (const c of root.children ?? []) walk(c, 0, 0);
  return out;
}
