// The map: Cytoscape.js on a canvas (names are drawn as text, never parsed as markup). Elements
// are synced by id, so an update adds, removes and restyles without touching zoom, pan, selection
// or the positions of what stays.
import { forwardRef, useEffect, useImperativeHandle, useRef } from 'react';
import cytoscape, { type Core, type ElementDefinition, type StylesheetJson } from 'cytoscape';
import type { VisibleEdge, VisibleGraph } from '../logic/grouping.js';
import { HEALTH_COLOURS, edgeWidth, trafficOf } from '../logic/health.js';
import { nodeSize, type Positions } from '../logic/placement.js';
import type { Placed } from './useLayout.js';
import { exposeMap } from './debug.js';

export type EdgeMark = 'new' | 'vanished' | '';

export interface MapHandle {
  centreOn(id: string): boolean;
  fit(): void;
}

export interface MapProps {
  placed: Placed | null;
  marks: ReadonlyMap<string, EdgeMark>;
  selected: string | null;
  initialViewport: { zoom: number; x: number; y: number } | null;
  onSelect(id: string | null): void;
  onToggleGroup(id: string): void;
  onViewport(zoom: number, x: number, y: number): void;
  onMoved(id: string, x: number, y: number): void;
  /** Called once the elements of a placement are drawn. */
  onRendered(generation: number): void;
}

const STYLE: StylesheetJson = [
  {
    selector: 'node',
    style: {
      label: 'data(label)',
      shape: 'round-rectangle',
      'background-color': '#eef2f7',
      'border-width': 1.5,
      'border-color': 'data(border)',
      'font-size': 12,
      'font-family': 'system-ui, sans-serif',
      color: '#1d2733',
      'text-valign': 'center',
      'text-halign': 'center',
      'text-wrap': 'ellipsis',
      'min-zoomed-font-size': 7,
    },
  },
  { selector: 'node[w]', style: { width: 'data(w)', height: 'data(h)', 'text-max-width': 'data(tw)' } },
  { selector: 'node[type = "group"]', style: { 'background-color': '#dbe4ef', 'border-width': 3, 'border-style': 'double', 'font-weight': 'bold' } },
  { selector: 'node[kind = "external"]', style: { 'border-style': 'dashed', 'background-color': '#f7f7f7' } },
  {
    selector: ':parent',
    style: {
      shape: 'round-rectangle',
      'background-color': '#3c5a80',
      'background-opacity': 0.05,
      'border-color': '#8a9bb0',
      'border-width': 1,
      'border-style': 'solid',
      label: 'data(label)',
      'text-valign': 'top',
      'text-halign': 'center',
      // Inside the box's top padding (ELK leaves the same padding on every side).
      'text-margin-y': 21,
      'font-size': 12,
      'font-weight': 'bold',
      color: '#3c5068',
      padding: '28px',
      'text-max-width': '400px',
    },
  },
  {
    selector: 'edge',
    style: {
      width: 'data(width)',
      'line-color': 'data(color)',
      'target-arrow-color': 'data(color)',
      'target-arrow-shape': 'triangle',
      'arrow-scale': 0.8,
      'curve-style': 'bezier',
      opacity: 0.85,
    },
  },
  { selector: 'edge[?loop]', style: { 'curve-style': 'bezier', 'loop-direction': '-45deg', 'loop-sweep': '-90deg' } },
  {
    selector: 'edge.new',
    style: { 'line-color': '#1565c0', 'target-arrow-color': '#1565c0', label: 'new', color: '#1565c0', 'font-size': 11, 'font-weight': 'bold', 'text-background-color': '#ffffff', 'text-background-opacity': 0.9, 'text-background-padding': '2px', opacity: 1 },
  },
  { selector: 'edge.vanished', style: { 'line-style': 'dashed', 'line-color': '#8d8d8d', 'target-arrow-color': '#8d8d8d', label: 'gone', color: '#6d6d6d', 'font-size': 11, 'text-background-color': '#ffffff', 'text-background-opacity': 0.9, opacity: 0.8 } },
  { selector: 'node:selected', style: { 'border-width': 4, 'border-color': '#1565c0', 'overlay-color': '#1565c0', 'overlay-opacity': 0.12, 'overlay-padding': 6 } },
  { selector: 'edge:selected', style: { 'overlay-color': '#1565c0', 'overlay-opacity': 0.25, 'overlay-padding': 5, opacity: 1 } },
];

const NODE_BORDER: Record<string, string> = { failing: HEALTH_COLOURS.failing, degraded: HEALTH_COLOURS.degraded, ok: '#5b7ba6', idle: '#8c99a6' };

function edgeLabelPorts(e: VisibleEdge): string {
  return e.ports.length > 3 ? `${e.ports.slice(0, 3).join(', ')}…` : e.ports.join(', ');
}

/** The elements for a placement, parents before children. */
export function elementsOf(p: Placed, marks: ReadonlyMap<string, EdgeMark>): ElementDefinition[] {
  const out: ElementDefinition[] = [];
  const depth = new Map<string, number>();
  const boxDepth = (id: string | null): number => {
    if (id === null) return 0;
    const known = depth.get(id);
    if (known !== undefined) return known;
    const box = p.vis.boxes.find((b) => b.id === id);
    const d = box ? 1 + boxDepth(box.parent) : 0;
    depth.set(id, d);
    return d;
  };
  for (const b of [...p.vis.boxes].sort((a, c) => boxDepth(a.id) - boxDepth(c.id))) {
    out.push({ group: 'nodes', data: { id: b.id, label: b.label, type: 'box', kind: b.group.level, ...(b.parent ? { parent: b.parent } : {}) } });
  }
  for (const n of p.vis.nodes) {
    const s = nodeSize(n);
    out.push({
      group: 'nodes',
      data: { id: n.id, label: n.label, type: n.type, kind: n.kind, w: s.w, h: s.h, tw: `${s.w - 12}px`, border: NODE_BORDER[n.health] ?? '#5b7ba6', health: n.health, ...(n.parent ? { parent: n.parent } : {}) },
      position: { ...(p.positions.get(n.id) ?? { x: 0, y: 0 }) },
    });
  }
  const busiest = Math.max(1, ...p.vis.edges.map((e) => trafficOf(e.counters)));
  for (const e of p.vis.edges) {
    const mark = edgeMark(e, marks);
    out.push({
      group: 'edges',
      data: { id: e.id, source: e.source, target: e.target, width: edgeWidth(trafficOf(e.counters), busiest), color: HEALTH_COLOURS[e.health], health: e.health, ports: edgeLabelPorts(e), loop: e.source === e.target },
      classes: mark,
    });
  }
  return out;
}

/** An edge on the map is new when any of its members is, and gone when all of them are. */
function edgeMark(e: VisibleEdge, marks: ReadonlyMap<string, EdgeMark>): EdgeMark {
  if (marks.size === 0) return '';
  let vanished = 0;
  for (const m of e.members) {
    const mark = marks.get(m.id);
    if (mark === 'new') return 'new';
    if (mark === 'vanished') vanished++;
  }
  return vanished === e.members.length ? 'vanished' : '';
}

function sync(cy: Core, els: ElementDefinition[], positions: Positions): void {
  const wanted = new Set(els.map((e) => e.data.id!));
  cy.batch(() => {
    // New boxes first (members may move into them), then members moved and updated, then what is
    // gone removed (no wanted node is left inside a removed box), then the rest added.
    const newBoxes = els.filter((d) => d.data.type === 'box' && cy.getElementById(d.data.id!).empty());
    if (newBoxes.length) cy.add(newBoxes);
    const toAdd: ElementDefinition[] = [];
    for (const def of els) {
      const id = def.data.id!;
      const ele = cy.getElementById(id);
      if (ele.empty()) {
        toAdd.push(def);
        continue;
      }
      if (def.group === 'edges' && (ele.data('source') !== def.data.source || ele.data('target') !== def.data.target)) {
        ele.remove();
        toAdd.push(def);
        continue;
      }
      const { parent, ...data } = def.data;
      ele.data(data);
      if (def.group === 'nodes') {
        const want = parent ?? null;
        const cur = ele.parent().nonempty() ? ele.parent().first().id() : null;
        if (want !== cur) (ele as cytoscape.NodeSingular).move({ parent: want });
      }
      if (def.classes !== undefined) cy.getElementById(id).classes(def.classes);
    }
    cy.elements().forEach((ele) => {
      if (!wanted.has(ele.id()) && ele.inside()) ele.remove();
    });
    if (toAdd.length) cy.add(toAdd);
    // Positions last: a box that became a collapsed group has lost its members only now.
    for (const [id, p] of positions) {
      const node = cy.getElementById(id);
      if (node.empty() || node.isParent()) continue;
      const q = node.position();
      if (q.x !== p.x || q.y !== p.y) node.position({ ...p });
    }
  });
}

function inView(cy: Core, ele: cytoscape.CollectionReturnValue): boolean {
  const b = ele.renderedBoundingBox();
  return b.x1 >= 0 && b.y1 >= 0 && b.x2 <= cy.width() && b.y2 <= cy.height();
}

export const MapView = forwardRef<MapHandle, MapProps>(function MapView(props, ref) {
  const container = useRef<HTMLDivElement>(null);
  const cyRef = useRef<Core | null>(null);
  const latest = useRef(props);
  latest.current = props;
  const renderedOnce = useRef(false);
  const lastGeneration = useRef(0);
  /** A node to keep centred for a moment: the panel opening beside the map resizes it just after. */
  const centreTarget = useRef<{ id: string; until: number } | null>(null);

  const centre = (id: string, animate: boolean): boolean => {
    const cy = cyRef.current;
    const ele = cy?.getElementById(id);
    if (!cy || !ele || ele.empty()) return false;
    cy.stop();
    // A box (an expanded group) is shown whole; a node is centred, at a zoom where it can be read.
    const box = ele.isNode() && (ele as cytoscape.NodeSingular).isParent();
    const bb = ele.boundingBox();
    const zoom = box ? Math.min(1.5, Math.min(cy.width() / (bb.w + 60), cy.height() / (bb.h + 60))) : Math.max(cy.zoom(), 1);
    const pan = { x: cy.width() / 2 - zoom * (bb.x1 + bb.w / 2), y: cy.height() / 2 - zoom * (bb.y1 + bb.h / 2) };
    if (animate) cy.animate({ zoom, pan }, { duration: 200 });
    else cy.viewport({ zoom, pan });
    return true;
  };

  useEffect(() => {
    const cy = cytoscape({
      container: container.current!,
      style: STYLE,
      minZoom: 0.02,
      maxZoom: 4,
      boxSelectionEnabled: false,
      selectionType: 'single',
      autoungrabify: false,
      textureOnViewport: false,
      motionBlur: false,
      pixelRatio: 1,
    });
    cyRef.current = cy;
    // A single tap selects once no second tap followed (onetap): selecting opens the panel beside
    // the map, which would otherwise move what the second tap of a double-tap lands on.
    cy.on('onetap', (ev) => {
      if (ev.target === cy) latest.current.onSelect(null);
      else latest.current.onSelect((ev.target as cytoscape.SingularElementArgument).id());
    });
    cy.on('dbltap', 'node', (ev) => {
      const n = ev.target as cytoscape.NodeSingular;
      const type = n.data('type') as string;
      if (type === 'group' || type === 'box') latest.current.onToggleGroup(n.id());
    });
    cy.on('dragfree', 'node', (ev) => {
      const n = ev.target as cytoscape.NodeSingular;
      const move = (m: cytoscape.NodeSingular): void => {
        if (m.isParent()) m.children().forEach((c) => move(c as cytoscape.NodeSingular));
        else latest.current.onMoved(m.id(), m.position('x'), m.position('y'));
      };
      move(n);
    });
    let viewportTimer: ReturnType<typeof setTimeout> | undefined;
    cy.on('viewport', () => {
      clearTimeout(viewportTimer);
      viewportTimer = setTimeout(() => latest.current.onViewport(cy.zoom(), cy.pan().x, cy.pan().y), 250);
    });
    const unexpose = exposeMap(cy);
    const resized = new ResizeObserver(() => {
      cy.resize();
      const t = centreTarget.current;
      if (t && Date.now() < t.until) centre(t.id, false);
    });
    resized.observe(container.current!);
    return () => {
      resized.disconnect();
      clearTimeout(viewportTimer);
      unexpose();
      cy.destroy();
      cyRef.current = null;
    };
  }, []);

  useEffect(() => {
    const cy = cyRef.current;
    const p = props.placed;
    if (!cy || !p) return;
    const started = performance.now();
    sync(cy, elementsOf(p, props.marks), p.positions);
    // Only a new full layout resets the viewport (marks change without a new placement).
    const fresh = p.generation !== lastGeneration.current;
    lastGeneration.current = p.generation;
    if (fresh && p.mode === 'full') {
      const v = !renderedOnce.current ? props.initialViewport : null;
      if (v) cy.viewport({ zoom: v.zoom, pan: { x: v.x, y: v.y } });
      else cy.fit(undefined, 30);
      // A link's selection is kept in sight even where the layout came out differently.
      const sel = props.selected ? cy.getElementById(props.selected) : null;
      if (sel && sel.nonempty() && !inView(cy, sel)) cy.center(sel);
    }
    const sel = props.selected;
    cy.$(':selected').forEach((e) => {
      if (e.id() !== sel) e.unselect();
    });
    if (sel) cy.getElementById(sel).select();
    // Cytoscape draws on its next animation frame; two frames later the update is on screen.
    requestAnimationFrame(() =>
      requestAnimationFrame(() => {
        performance.measure('flowscope:draw', { start: started, detail: { elements: cy.elements().length } });
        if (!renderedOnce.current) performance.mark('flowscope:first-render');
        renderedOnce.current = true;
        latest.current.onRendered(p.generation);
      }),
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [props.placed, props.marks]);

  useEffect(() => {
    const cy = cyRef.current;
    if (!cy) return;
    cy.$(':selected').forEach((e) => {
      if (e.id() !== props.selected) e.unselect();
    });
    if (props.selected) cy.getElementById(props.selected).select();
  }, [props.selected]);

  useImperativeHandle(ref, () => ({
    centreOn(id: string): boolean {
      centreTarget.current = { id, until: Date.now() + 1000 };
      return centre(id, true);
    },
    fit(): void {
      cyRef.current?.fit(undefined, 30);
    },
  }));

  const p = props.placed;
  return (
    <div
      className="map"
      ref={container}
      role="img"
      aria-label={p ? `Service map: ${p.vis.nodes.length} nodes, ${p.vis.boxes.length} boxes and ${p.vis.edges.length} edges. The table view lists the same edges as text.` : 'Service map, loading'}
      data-generation={p?.generation ?? 0}
    />
  );
});
