// Fine edges: client endpoint to server endpoint on a service port. Every view's edge is a group
// of these; the store keeps counters per fine edge and side.

export type Protocol = 'tcp';

export interface FineEdge {
  readonly id: number;
  readonly client: number;
  readonly server: number;
  readonly port: number;
  readonly protocol: Protocol;
}

export const SIDES = ['client', 'server'] as const;
export type SideName = (typeof SIDES)[number];
export const CLIENT = 0;
export const SERVER = 1;
export type SideIndex = typeof CLIENT | typeof SERVER;

export class EdgeDictionary {
  private readonly byKey = new Map<string, number>();
  private readonly list: FineEdge[] = [];

  get size(): number {
    return this.list.length;
  }

  private static key(client: number, server: number, port: number, protocol: Protocol): string {
    return `${client}:${server}:${port}:${protocol}`;
  }

  /** The id of a fine edge, and whether it is new. */
  intern(client: number, server: number, port: number, protocol: Protocol = 'tcp'): { id: number; created: boolean } {
    const key = EdgeDictionary.key(client, server, port, protocol);
    const id = this.byKey.get(key);
    if (id !== undefined) return { id, created: false };
    const edge: FineEdge = { id: this.list.length, client, server, port, protocol };
    this.list.push(edge);
    this.byKey.set(key, edge.id);
    return { id: edge.id, created: true };
  }

  restore(edge: FineEdge): void {
    this.list[edge.id] = edge;
    this.byKey.set(EdgeDictionary.key(edge.client, edge.server, edge.port, edge.protocol), edge.id);
  }

  get(id: number): FineEdge {
    const e = this.list[id];
    if (!e) throw new Error(`no edge ${id}`);
    return e;
  }

  values(): FineEdge[] {
    return this.list;
  }
}
