// Per view, what every fine edge the hub has seen groups into: its view edge (both ends' view
// nodes and the port), the view nodes' ids, names and labels, and who is adjacent to whom. Built
// once per fine edge as the dictionaries grow (fine edges never change), so that a query only adds
// counters into its view edges: no node ids are computed, no strings built per request.
import type { Endpoint } from './endpoint.js';
import { edgeId } from './graph.js';
import { endpointLabels, nodeOf, viewName, type View } from './views.js';
import type { KnownEdges, ResolvedEdge } from '../store/store.js';

/** Grows an Int32Array to hold at least `n` items (new items set to `fill`). */
function grow(a: Int32Array, n: number, fill = -1): Int32Array {
  if (n <= a.length) return a;
  const b = new Int32Array(Math.max(n, a.length * 2, 1024));
  b.set(a);
  b.fill(fill, a.length);
  return b;
}

export class ViewIndex {
  readonly name: string;
  // View nodes.
  readonly nodeIds: string[] = [];
  readonly nodeKinds: string[] = [];
  readonly nodeNames: string[] = [];
  private readonly nodeById = new Map<string, number>();
  /** Per view node, the endpoints (local numbers) it groups. */
  readonly nodeMembers: number[][] = [];
  // Endpoints (local numbers, by object: dictionaries give each identity one object).
  private readonly endpointNo = new Map<Endpoint, number>();
  readonly endpointNode: number[] = [];
  readonly endpointLabels: Array<Readonly<Record<string, string>>> = [];
  // View edges.
  private readonly edgeByKey = new Map<string, number>();
  source: Int32Array = new Int32Array(0);
  target: Int32Array = new Int32Array(0);
  port: Int32Array = new Int32Array(0);
  readonly protocol: string[] = [];
  private readonly ids: Array<string | undefined> = [];
  /** Per view edge, the fine edges (local numbers) it groups. */
  readonly members: number[][] = [];
  /** Per view node, its view edges (either direction). */
  readonly adjacent: number[][] = [];
  edgeCount = 0;
  // Fine edges: by the store's numeric id when it has one, else by key.
  private byFineId: Int32Array = new Int32Array(0);
  private readonly byFineKey = new Map<string, number>();
  /** Per fine edge (local number), its view edge and the resolved edge. */
  fineView: Int32Array = new Int32Array(0);
  readonly fine: ResolvedEdge[] = [];
  /** Per fine edge (local number), its ends' endpoint numbers. */
  fineClient: Int32Array = new Int32Array(0);
  fineServer: Int32Array = new Int32Array(0);
  /** The store's known edges with ids below this are indexed. */
  private knownIndexed = 0;

  constructor(readonly view: View) {
    this.name = viewName(view);
  }

  get nodeCount(): number {
    return this.nodeIds.length;
  }

  nodeNumber(id: string): number | undefined {
    return this.nodeById.get(id);
  }

  private endpoint(e: Endpoint): number {
    let no = this.endpointNo.get(e);
    if (no !== undefined) return no;
    no = this.endpointNode.length;
    this.endpointNo.set(e, no);
    const ref = nodeOf(e, this.view);
    let node = this.nodeById.get(ref.id);
    if (node === undefined) {
      node = this.nodeIds.length;
      this.nodeById.set(ref.id, node);
      this.nodeIds.push(ref.id);
      this.nodeKinds.push(ref.kind);
      this.nodeNames.push(ref.name);
      this.nodeMembers.push([]);
      this.adjacent.push([]);
    }
    this.nodeMembers[node]!.push(no);
    this.endpointNode.push(node);
    this.endpointLabels.push(endpointLabels(e, this.view, ref.kind));
    return no;
  }

  /** The local number of the fine edge with this store id (ResolvedEdge.id), -1 when not indexed. */
  fineNumberOfId(id: number): number {
    return id < this.byFineId.length ? this.byFineId[id]! : -1;
  }

  /** The fine edge's local number (indexed now when new). */
  fineNumber(e: ResolvedEdge): number {
    let no: number | undefined;
    if (e.id !== undefined) {
      this.byFineId = grow(this.byFineId, e.id + 1);
      no = this.byFineId[e.id]!;
      if (no >= 0) return no;
    } else {
      no = this.byFineKey.get(e.key);
      if (no !== undefined) return no;
    }
    no = this.fine.length;
    if (e.id !== undefined) this.byFineId[e.id] = no;
    else this.byFineKey.set(e.key, no);
    const client = this.endpoint(e.client);
    const server = this.endpoint(e.server);
    const src = this.endpointNode[client]!;
    const dst = this.endpointNode[server]!;
    const key = `${src}:${dst}:${e.port}:${e.protocol}`;
    let ve = this.edgeByKey.get(key);
    if (ve === undefined) {
      ve = this.edgeCount++;
      this.edgeByKey.set(key, ve);
      this.source = grow(this.source, ve + 1);
      this.target = grow(this.target, ve + 1);
      this.port = grow(this.port, ve + 1);
      this.source[ve] = src;
      this.target[ve] = dst;
      this.port[ve] = e.port;
      this.protocol.push(e.protocol);
      this.ids.push(undefined);
      this.members.push([]);
      this.adjacent[src]!.push(ve);
      if (dst !== src) this.adjacent[dst]!.push(ve);
    }
    this.members[ve]!.push(no);
    this.fine.push(e);
    this.fineView = grow(this.fineView, no + 1);
    this.fineClient = grow(this.fineClient, no + 1);
    this.fineServer = grow(this.fineServer, no + 1);
    this.fineView[no] = ve;
    this.fineClient[no] = client;
    this.fineServer[no] = server;
    return no;
  }

  /** The view edge between two view nodes on a port, if any fine edge made it. */
  edgeNumber(source: number, target: number, port: number, protocol = 'tcp'): number | undefined {
    return this.edgeByKey.get(`${source}:${target}:${port}:${protocol}`);
  }

  /** The API's id of a view edge. */
  edgeId(ve: number): string {
    let id = this.ids[ve];
    if (id === undefined) {
      id = edgeId(this.view, this.nodeIds[this.source[ve]!]!, this.nodeIds[this.target[ve]!]!, this.port[ve]!);
      this.ids[ve] = id;
    }
    return id;
  }

  /**
   * Indexes the fine edges the store knows that this index has not seen (ids only grow); with
   * `limit`, at most that many ids this call. True when all are indexed.
   */
  indexAll(known: KnownEdges, limit = Infinity): boolean {
    const end = Math.min(known.size, this.knownIndexed + limit);
    for (let id = this.knownIndexed; id < end; id++) {
      const e = known.edge(id);
      if (e) this.fineNumber(e);
    }
    this.knownIndexed = Math.max(this.knownIndexed, end);
    return end >= known.size;
  }

  /**
   * View nodes within `hops` of `start` over every view edge indexed (any time): a superset of
   * the nodes a window's neighbourhood can reach. Node number to distance.
   */
  reach(start: number, hops: number, edgeUsable: (ve: number) => boolean = () => true): Map<number, number> {
    const distance = new Map<number, number>([[start, 0]]);
    let frontier = [start];
    for (let d = 1; d <= hops && frontier.length; d++) {
      const next: number[] = [];
      for (const n of frontier) {
        for (const ve of this.adjacent[n]!) {
          if (!edgeUsable(ve)) continue;
          const other = this.source[ve] === n ? this.target[ve]! : this.source[ve]!;
          if (!distance.has(other)) {
            distance.set(other, d);
            next.push(other);
          }
        }
      }
      frontier = next;
    }
    return distance;
  }
}

/** The indexes of the views queries asked for (label views are kept for the most recent few). */
export class ViewIndexes {
  private readonly byName = new Map<string, ViewIndex>();

  constructor(private readonly maxLabelViews = 16) {}

  get(view: View): ViewIndex {
    const name = viewName(view);
    let index = this.byName.get(name);
    if (index) {
      if (view.kind === 'label') {
        // Most recently used last.
        this.byName.delete(name);
        this.byName.set(name, index);
      }
      return index;
    }
    index = new ViewIndex(view);
    this.byName.set(name, index);
    if (view.kind === 'label') {
      const labels = [...this.byName.keys()].filter((n) => n.startsWith('label:'));
      if (labels.length > this.maxLabelViews) this.byName.delete(labels[0]!);
    }
    return index;
  }
}
