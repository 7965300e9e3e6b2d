// What the page's read-only debug object (window.flowscope) tells tests and benchmarks.

export interface DrawnElement {
  id: string;
  group: 'nodes' | 'edges';
  type: string;
  label: string;
  classes: string[];
  parent: string | null;
  x: number;
  y: number;
  source?: string;
  target?: string;
  color?: string;
  width?: number;
}

export interface MapStatus {
  /** The latest placement is on screen. */
  ready: boolean;
  /** A placement is being computed (or waits to be). */
  busy: boolean;
  generation: number;
  rendered: number;
  /** What the drawn graph answers (view, filter, neighbourhood). */
  query: string;
  /** What the map collapsed or left out, as the page says it. */
  message: string;
  /** The latest placements: a full layout, or new nodes placed into a kept one (and nodes moved aside). */
  placements: Array<{ generation: number; mode: 'full' | 'incremental'; placed: number; moved: number }>;
}

export interface FlowscopeDebug {
  elements(): DrawnElement[];
  viewport(): { zoom: number; x: number; y: number };
  selected(): string[];
  /** Counts of `render` events: frames the map actually drew. */
  frames(): number;
  status: MapStatus;
}
