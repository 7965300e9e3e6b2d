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
  /**
   * (client, server, port) to id + 1 in an open-addressed table (0: empty): a look-up per record
   * hashes three integers, no Map of Maps (their keys past 2^31 are heap numbers). Only TCP edges
   * exist (Protocol): the protocol is not part of the key.
   */
  private slots = new Int32Array(1 << 16);
  private clients = new Int32Array(1 << 15);
  private servers = new Int32Array(1 << 15);
  private ports = new Int32Array(1 << 15);
  private readonly list: FineEdge[] = [];

  get size(): number {
    return this.list.length;
  }

  /** The id of a fine edge, and whether it is new. */
  intern(client: number, server: number, port: number, protocol: Protocol = 'tcp'): { id: number; created: boolean } {
    const n = this.list.length;
    const id = this.idOf(client, server, port, protocol);
    return { id, created: id === n };
  }

  /** The id of a fine edge, made when new (intern without an object per call: the join's hot path). */
  idOf(client: number, server: number, port: number, protocol: Protocol = 'tcp'): number {
    const mask = this.slots.length - 1;
    let h = hash3(client, server, port) & mask;
    for (;;) {
      const at = this.slots[h]!;
      if (at === 0) break;
      const id = at - 1;
      if (this.clients[id] === client && this.servers[id] === server && this.ports[id] === port) return id;
      h = (h + 1) & mask;
    }
    const id = this.list.length;
    this.list.push({ id, client, server, port, protocol });
    this.place(id, client, server, port, h);
    return id;
  }

  restore(edge: FineEdge): void {
    this.list[edge.id] = edge;
    const mask = this.slots.length - 1;
    let h = hash3(edge.client, edge.server, edge.port) & mask;
    while (this.slots[h] !== 0) {
      if (this.slots[h] === edge.id + 1) return;
      h = (h + 1) & mask;
    }
    this.place(edge.id, edge.client, edge.server, edge.port, h);
  }

  /** Records edge `id` in slot h (free), growing the arrays and the table as needed. */
  private place(id: number, client: number, server: number, port: number, h: number): void {
    if (id >= this.clients.length) {
      const n = Math.max(id + 1, this.clients.length * 2);
      this.clients = grown(this.clients, n);
      this.servers = grown(this.servers, n);
      this.ports = grown(this.ports, n);
    }
    this.clients[id] = client;
    this.servers[id] = server;
    this.ports[id] = port;
    this.slots[h] = id + 1;
    // At most half full: short probes.
    if (this.list.length * 2 > this.slots.length) this.rehash();
  }

  private rehash(): void {
    const slots = new Int32Array(this.slots.length * 2);
    const mask = slots.length - 1;
    for (const e of this.list) {
      if (!e) continue;
      let h = hash3(e.client, e.server, e.port) & mask;
      while (slots[h] !== 0) h = (h + 1) & mask;
      slots[h] = e.id + 1;
    }
    this.slots = slots;
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

function hash3(a: number, b: number, c: number): number {
  let h = Math.imul(a, 0x9e3779b1) ^ Math.imul(b, 0x85ebca77) ^ Math.imul(c, 0xc2b2ae3d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  return h ^ (h >>> 13);
}

function grown(a: Int32Array, n: number): Int32Array<ArrayBuffer> {
  const out = new Int32Array(n);
  out.set(a);
  return out;
}
