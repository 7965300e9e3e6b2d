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
  /** Per protocol: client * 65536 + port, then server, to the id (numbers: no key string per lookup). */
  private readonly byKey = new Map<Protocol, Map<number, Map<number, number>>>();
  private readonly list: FineEdge[] = [];

  get size(): number {
    return this.list.length;
  }

  private servers(client: number, port: number, protocol: Protocol): Map<number, number> {
    let byClient = this.byKey.get(protocol);
    if (!byClient) this.byKey.set(protocol, (byClient = new Map()));
    const key = client * 65536 + port;
    let servers = byClient.get(key);
    if (!servers) byClient.set(key, (servers = new Map()));
    return servers;
  }

  /** The id of a fine edge, and whether it is new. */
  intern(client: number, server: number, port: number, protocol: Protocol = 'tcp'): { id: number; created: boolean } {
    const n = this.list.length;
    const id = this.idOf(client, server, port, protocol);
    return { id, created: id === n };
  }

  /** The id of a fine edge, made when new (intern without an object per call: the join's hot path). */
  idOf(client: number, server: number, port: number, protocol: Protocol = 'tcp'): number {
    const servers = this.servers(client, port, protocol);
    let id = servers.get(server);
    if (id === undefined) {
      id = this.list.length;
      this.list.push({ id, client, server, port, protocol });
      servers.set(server, id);
    }
    return id;
  }

  restore(edge: FineEdge): void {
    this.list[edge.id] = edge;
    this.servers(edge.client, edge.port, edge.protocol).set(edge.server, edge.id);
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
