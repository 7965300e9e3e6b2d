// Stable positions: the map is laid out once (layered, off the main thread); after that, updates
// place what is new and never move what was there. A new node goes beside the nodes it talks to
// (in its own box), in the nearest free spot; new nodes with no placed neighbour are laid out as a
// block beside the map; an expanded group's members are laid out as a block where the group was,
// and only the nodes that block covers are pushed aside; a collapsed group sits where its members
// were. Positions are kept for nodes that leave, so they come back where they were.
import type { VisibleGraph, VisibleNode } from './grouping.js';

export interface Point {
  x: number;
  y: number;
}
export type Positions = Map<string, Point>;

export interface Rect {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

export interface Size {
  w: number;
  h: number;
}

/** A layout job: nodes (leaves and collapsed groups) with sizes, boxes that contain them, edges. */
export interface LayoutRequest {
  nodes: Array<{ id: string; w: number; h: number; parent: string | null }>;
  boxes: Array<{ id: string; parent: string | null; label: string }>;
  /** weight: the edge's traffic (a dense map is laid out by its heaviest edges). */
  edges: Array<{ id: string; source: string; target: string; weight: number }>;
}

/** Computes centre positions for a request (ELK in a worker in the app; anything in tests). */
export type LayoutFn = (req: LayoutRequest) => Promise<Positions>;

const GAP = 24;
/** The padding the map draws around a box's members (as ELK lays them out: elk-graph.ts). */
const BOX_PAD = 28;
const LAYER_GAP = 110;
const MAX_RINGS = 14;

export function nodeSize(n: Pick<VisibleNode, 'label' | 'type'>): Size {
  const chars = Math.min(n.label.length, 34);
  return n.type === 'group' ? { w: Math.max(96, Math.min(280, chars * 7.2 + 36)), h: 48 } : { w: Math.max(72, Math.min(260, chars * 7.2 + 26)), h: 34 };
}

export const rectOf = (p: Point, s: Size): Rect => ({ x1: p.x - s.w / 2, y1: p.y - s.h / 2, x2: p.x + s.w / 2, y2: p.y + s.h / 2 });

export const overlaps = (a: Rect, b: Rect, margin = 0): boolean => a.x1 < b.x2 + margin && b.x1 < a.x2 + margin && a.y1 < b.y2 + margin && b.y1 < a.y2 + margin;

function union(rects: Iterable<Rect>): Rect | null {
  let r: Rect | null = null;
  for (const x of rects) r = r ? { x1: Math.min(r.x1, x.x1), y1: Math.min(r.y1, x.y1), x2: Math.max(r.x2, x.x2), y2: Math.max(r.y2, x.y2) } : { ...x };
  return r;
}

/** The smallest request that lays out `ids` (and the boxes between them and `root`) with the edges among them. */
export function subRequest(vis: VisibleGraph, ids: ReadonlySet<string>, root: string | null = null): LayoutRequest {
  const boxParent = new Map(vis.boxes.map((b) => [b.id, b.parent]));
  const usedBoxes = new Set<string>();
  const nodes = vis.nodes
    .filter((n) => ids.has(n.id))
    .map((n) => {
      let p = n.parent;
      while (p !== null && p !== root) {
        usedBoxes.add(p);
        p = boxParent.get(p) ?? null;
      }
      const s = nodeSize(n);
      return { id: n.id, w: s.w, h: s.h, parent: n.parent === root ? null : n.parent };
    });
  const boxes = vis.boxes.filter((b) => usedBoxes.has(b.id)).map((b) => ({ id: b.id, parent: b.parent === root ? null : b.parent, label: b.label }));
  const edges = vis.edges.filter((e) => ids.has(e.source) && ids.has(e.target)).map((e) => ({ id: e.id, source: e.source, target: e.target, weight: e.counters.connections }));
  return { nodes, boxes, edges };
}

export function fullRequest(vis: VisibleGraph): LayoutRequest {
  return subRequest(vis, new Set(vis.nodes.map((n) => n.id)));
}

/** A spot for `size` near `want` that overlaps none of `obstacles`: rings of candidates around it. */
export function findFree(want: Point, size: Size, obstacles: readonly Rect[]): Point {
  const stepX = size.w + GAP;
  const stepY = size.h + GAP / 2;
  for (let ring = 0; ring <= MAX_RINGS; ring++) {
    const candidates: Point[] = [];
    for (let dx = -ring; dx <= ring; dx++) {
      for (let dy = -ring; dy <= ring; dy++) {
        if (Math.max(Math.abs(dx), Math.abs(dy)) !== ring) continue;
        candidates.push({ x: want.x + dx * stepX, y: want.y + dy * stepY });
      }
    }
    // Nearest first; below before above and right before left on ties (reading order).
    candidates.sort((a, b) => Math.hypot(a.x - want.x, a.y - want.y) - Math.hypot(b.x - want.x, b.y - want.y) || b.y - a.y || b.x - a.x);
    for (const c of candidates) {
      const r = rectOf(c, size);
      if (!obstacles.some((o) => overlaps(r, o, GAP / 2))) return c;
    }
  }
  // Nothing free nearby: below everything.
  const all = union(obstacles);
  return all ? { x: want.x, y: all.y2 + GAP + size.h / 2 } : want;
}

/** Moves the nodes that `block` covers just out of it, each along the axis that needs the least move. */
export function makeRoom(positions: Positions, sizes: ReadonlyMap<string, Size>, ids: Iterable<string>, block: Rect): string[] {
  const moved: string[] = [];
  const cx = (block.x1 + block.x2) / 2;
  const cy = (block.y1 + block.y2) / 2;
  for (const id of ids) {
    const p = positions.get(id);
    const s = sizes.get(id);
    if (!p || !s) continue;
    const r = rectOf(p, s);
    if (!overlaps(r, block, GAP)) continue;
    const right = block.x2 + GAP - r.x1;
    const left = r.x2 - (block.x1 - GAP);
    const down = block.y2 + GAP - r.y1;
    const up = r.y2 - (block.y1 - GAP);
    const horizontal = p.x >= cx ? right : -left;
    const vertical = p.y >= cy ? down : -up;
    if (Math.abs(horizontal) <= Math.abs(vertical)) positions.set(id, { x: p.x + horizontal, y: p.y });
    else positions.set(id, { x: p.x, y: p.y + vertical });
    moved.push(id);
  }
  return moved;
}

function centre(ps: Iterable<Point>): Point | null {
  let x = 0;
  let y = 0;
  let n = 0;
  for (const p of ps) {
    x += p.x;
    y += p.y;
    n++;
  }
  return n ? { x: x / n, y: y / n } : null;
}

export interface PlacementResult {
  /** Every visible node's centre. */
  positions: Positions;
  /** How it was done: a full layout, or what was added to a kept one. */
  mode: 'full' | 'incremental';
  placed: string[];
  /** Nodes moved aside to make room for an expanded group (user action; live updates never move nodes). */
  moved: string[];
}

/**
 * Positions for `vis` given what was drawn before (`prev`, with `store` holding every position ever
 * given). `store` is updated in place.
 */
export async function place(vis: VisibleGraph, prev: VisibleGraph | null, store: Positions, layout: LayoutFn): Promise<PlacementResult> {
  const sizes = new Map(vis.nodes.map((n) => [n.id, nodeSize(n)]));
  const prevIds = new Set(prev?.nodes.map((n) => n.id) ?? []);
  const kept = vis.nodes.filter((n) => prevIds.has(n.id) && store.has(n.id)).map((n) => n.id);
  if (kept.length === 0) {
    const full = await layout(fullRequest(vis));
    for (const [id, p] of full) store.set(id, p);
    return { positions: pick(store, vis), mode: 'full', placed: vis.nodes.map((n) => n.id), moved: [] };
  }
  const placed = new Set(kept);
  const newIds = vis.nodes.filter((n) => !placed.has(n.id));
  const moved: string[] = [];
  const obstacles = (): Rect[] => [...placed].map((id) => rectOf(store.get(id)!, sizes.get(id)!));
  const placeAt = (id: string, want: Point): void => {
    store.set(id, findFree(want, sizes.get(id)!, obstacles()));
    placed.add(id);
  };

  // Groups expanded since: their members as a block where the group was.
  const visIds = new Set(vis.nodes.map((n) => n.id));
  const boxIds = new Set(vis.boxes.map((b) => b.id));
  const expandedGroups = prev ? prev.nodes.filter((p) => p.type === 'group' && !visIds.has(p.id) && boxIds.has(p.id)) : [];
  for (const g of expandedGroups) {
    const members = new Set(newIds.filter((n) => !placed.has(n.id) && insideBox(n, g.id, vis)).map((n) => n.id));
    const anchor = store.get(g.id);
    if (members.size === 0 || !anchor) continue;
    const rel = await layout(subRequest(vis, members, g.id));
    const block = union([...rel].map(([id, p]) => rectOf(p, sizes.get(id)!)));
    if (!block) continue;
    const dx = anchor.x - (block.x1 + block.x2) / 2;
    const dy = anchor.y - (block.y1 + block.y2) / 2;
    // The box drawn around the block has its padding (and its name) too.
    const pad = BOX_PAD;
    const shifted = { x1: block.x1 + dx - pad, y1: block.y1 + dy - pad, x2: block.x2 + dx + pad, y2: block.y2 + dy + pad };
    moved.push(...makeRoom(store, sizes, [...placed], shifted));
    for (const [id, p] of rel) {
      store.set(id, { x: p.x + dx, y: p.y + dy });
      placed.add(id);
    }
  }

  // Groups collapsed since: where their members were.
  for (const n of newIds) {
    if (n.type !== 'group' || placed.has(n.id) || !prev) continue;
    const members = prev.nodes.filter((p) => insideBox(p, n.id, prev) && store.has(p.id)).map((p) => store.get(p.id)!);
    const c = centre(members);
    if (c) placeAt(n.id, c);
  }

  // Returning nodes keep their old spot when it is still free.
  for (const n of newIds) {
    if (placed.has(n.id) || !store.has(n.id)) continue;
    const r = rectOf(store.get(n.id)!, sizes.get(n.id)!);
    if (!obstacles().some((o) => overlaps(r, o, GAP / 2))) placed.add(n.id);
  }

  // New nodes beside the placed nodes they talk to, in their box.
  const neighbours = new Map<string, { sources: string[]; targets: string[] }>();
  for (const e of vis.edges) {
    if (!neighbours.has(e.target)) neighbours.set(e.target, { sources: [], targets: [] });
    if (!neighbours.has(e.source)) neighbours.set(e.source, { sources: [], targets: [] });
    neighbours.get(e.target)!.sources.push(e.source);
    neighbours.get(e.source)!.targets.push(e.target);
  }
  const orphans: string[] = [];
  let progress = true;
  // Nodes whose neighbours are themselves new get placed once those are (a chain of new nodes).
  while (progress) {
    progress = false;
    for (const n of newIds) {
      if (placed.has(n.id)) continue;
      const nb = neighbours.get(n.id) ?? { sources: [], targets: [] };
      const srcs = nb.sources.filter((s) => placed.has(s)).map((s) => store.get(s)!);
      const tgts = nb.targets.filter((t) => placed.has(t)).map((t) => store.get(t)!);
      if (srcs.length === 0 && tgts.length === 0) continue;
      const xs = srcs.length ? Math.max(...srcs.map((p) => p.x)) + LAYER_GAP + sizes.get(n.id)!.w / 2 : Math.min(...tgts.map((p) => p.x)) - LAYER_GAP - sizes.get(n.id)!.w / 2;
      const want = { x: xs, y: centre([...srcs, ...tgts])!.y };
      const siblings = vis.nodes.filter((s) => s.id !== n.id && s.parent === n.parent && n.parent !== null && placed.has(s.id)).map((s) => rectOf(store.get(s.id)!, sizes.get(s.id)!));
      const box = union(siblings);
      if (box) {
        // Stay in (or at the edge of) the box: its column range, below its lowest member.
        want.x = Math.min(Math.max(want.x, box.x1 + sizes.get(n.id)!.w / 2), box.x2 - sizes.get(n.id)!.w / 2);
        if (want.y < box.y1 || want.y > box.y2) want.y = box.y2 + GAP + sizes.get(n.id)!.h / 2;
      }
      placeAt(n.id, want);
      progress = true;
    }
  }
  for (const n of newIds) if (!placed.has(n.id)) orphans.push(n.id);

  // The rest: a block of their own, right of the map.
  if (orphans.length) {
    const rel = await layout(subRequest(vis, new Set(orphans)));
    const block = union([...rel].map(([id, p]) => rectOf(p, sizes.get(id)!)));
    const all = union(obstacles());
    if (block) {
      const dx = (all ? all.x2 + LAYER_GAP : 0) - block.x1;
      const dy = (all ? all.y1 : 0) - block.y1;
      for (const [id, p] of rel) {
        store.set(id, { x: p.x + dx, y: p.y + dy });
        placed.add(id);
      }
    }
  }
  return { positions: pick(store, vis), mode: 'incremental', placed: newIds.map((n) => n.id), moved };
}

function pick(store: Positions, vis: VisibleGraph): Positions {
  const out: Positions = new Map();
  for (const n of vis.nodes) {
    const p = store.get(n.id);
    if (p) out.set(n.id, p);
  }
  return out;
}

/** Whether a node of `vis` is drawn inside box `boxId` (at any depth). */
function insideBox(n: VisibleNode, boxId: string, vis: VisibleGraph): boolean {
  const parents = new Map(vis.boxes.map((b) => [b.id, b.parent]));
  let p = n.parent;
  while (p !== null) {
    if (p === boxId) return true;
    p = parents.get(p) ?? null;
  }
  return false;
}
