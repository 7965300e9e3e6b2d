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
  generation: number;
  rendered: number;
  /** What the map collapsed or left out, as the page says it. */
  message: string;
}

export interface FlowscopeDebug {
  elements(): DrawnElement[];
  viewport(): { zoom: number; x: number; y: number };
  selected(): string[];
  /** Counts of `render` events: frames the map actually drew. */
  frames(): number;
  status: MapStatus;
}
