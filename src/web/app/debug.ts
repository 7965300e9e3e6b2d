// A read-only window onto the map for tests and benchmarks (window.flowscope): what is drawn and
// where, the viewport, the selection, and whether the last update is on screen. It changes nothing.
import type { Core } from 'cytoscape';
import type { FlowscopeDebug } from '../logic/debug-types.js';

declare global {
  interface Window {
    flowscope?: FlowscopeDebug;
  }
}

const status: FlowscopeDebug['status'] = { ready: false, busy: false, generation: 0, rendered: 0, query: '', message: '', placements: [] };

export function setMapStatus(patch: Partial<FlowscopeDebug['status']>): void {
  Object.assign(status, patch);
}

export function notePlacement(p: FlowscopeDebug['status']['placements'][number]): void {
  status.placements.push(p);
  if (status.placements.length > 50) status.placements.shift();
}

export function exposeMap(cy: Core): () => void {
  let frames = 0;
  const onRender = (): void => {
    frames++;
  };
  cy.on('render', onRender);
  window.flowscope = {
    elements: () =>
      cy.elements().map((e) => {
        const isNode = e.isNode();
        const p = isNode ? (e as cytoscape.NodeSingular).position() : { x: 0, y: 0 };
        return {
          id: e.id(),
          group: isNode ? 'nodes' : 'edges',
          type: String(e.data('type') ?? (isNode ? '' : 'edge')),
          label: String(e.data('label') ?? ''),
          classes: e.classes() as unknown as string[],
          parent: isNode && (e as cytoscape.NodeSingular).parent().nonempty() ? (e as cytoscape.NodeSingular).parent().first().id() : null,
          x: p.x,
          y: p.y,
          ...(isNode ? {} : { source: e.data('source') as string, target: e.data('target') as string, color: e.data('color') as string, width: e.data('width') as number }),
        };
      }),
    viewport: () => ({ zoom: cy.zoom(), x: cy.pan().x, y: cy.pan().y }),
    selected: () => cy.$(':selected').map((e) => e.id()),
    frames: () => frames,
    status,
  };
  return () => {
    cy.off('render', onRender);
    delete window.flowscope;
  };
}
