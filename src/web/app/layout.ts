// Layered layout (ELK) in a Web Worker: the main thread only builds the request and reads the
// answer, so the page stays responsive while a large map is laid out.
import ELK, { type ELK as ElkApi, type ElkNode as ApiNode } from 'elkjs/lib/elk-api.js';
import elkWorkerUrl from 'elkjs/lib/elk-worker.min.js?url';
import { fromElk, toElk } from '../logic/elk-graph.js';
import type { LayoutRequest, Positions } from '../logic/placement.js';

let elk: ElkApi | null = null;

function instance(): ElkApi {
  elk ??= new ELK({ workerFactory: () => new Worker(elkWorkerUrl, { name: 'flowscope-layout' }) });
  return elk;
}

export async function elkLayout(req: LayoutRequest): Promise<Positions> {
  if (req.nodes.length === 0) return new Map();
  const started = performance.now();
  const result = await instance().layout(toElk(req) as ApiNode);
  performance.measure('flowscope:layout', { start: started, detail: { nodes: req.nodes.length, edges: req.edges.length } });
  return fromElk(result, req);
}
