// The links of the network namespace as events and listings report them, and what changed: a link
// that appeared, was renamed or changed type (`up`), or went (`down`).
//
// A listing (a netlink dump, or a poll) repairs whatever events were lost: a link it does not
// mention, and that no event touched while it ran, is gone. Links are stamped with the generation
// of the listing during which they were last reported; when a complete listing ends, the older
// ones are swept. (A link that exists while the dump runs is in the dump, or an event about it
// follows the dump's start in the same socket.)

export interface LinkState {
  ifindex: number;
  name: string;
  /** ARPHRD_* */
  type: number;
}

export interface LinkChanges {
  /** A link appeared (previous undefined), or a known one now has another name or type. */
  up(link: LinkState, previous: LinkState | undefined): void;
  down(link: LinkState): void;
}

interface Entry extends LinkState {
  generation: number;
}

export class LinkTable {
  private readonly links = new Map<number, Entry>();
  private readonly byName = new Map<string, number>();
  private generation = 0;

  constructor(private readonly changes: LinkChanges) {}

  get size(): number {
    return this.links.size;
  }

  get(ifindex: number): LinkState | undefined {
    return this.links.get(ifindex);
  }

  values(): IterableIterator<LinkState> {
    return this.links.values();
  }

  /** A full listing follows: what it does not report, and no event touches meanwhile, is gone at its end. */
  beginListing(): void {
    this.generation++;
  }

  /** The listing ended; `complete` false (interrupted, failed): nothing is swept. */
  endListing(complete: boolean): void {
    if (!complete) return;
    for (const e of [...this.links.values()]) if (e.generation < this.generation) this.remove(e.ifindex);
  }

  upsert(ifindex: number, name: string, type: number): void {
    const cur = this.links.get(ifindex);
    if (cur) {
      cur.generation = this.generation;
      if (cur.name === name && cur.type === type) return;
    }
    // Names are unique in a namespace: another index under this name is a device whose deletion we missed.
    const other = this.byName.get(name);
    if (other !== undefined && other !== ifindex) this.remove(other);
    const previous = cur ? { ifindex, name: cur.name, type: cur.type } : undefined;
    if (cur && this.byName.get(cur.name) === ifindex) this.byName.delete(cur.name);
    const entry: Entry = { ifindex, name, type, generation: this.generation };
    this.links.set(ifindex, entry);
    this.byName.set(name, ifindex);
    this.changes.up(entry, previous);
  }

  remove(ifindex: number): void {
    const cur = this.links.get(ifindex);
    if (!cur) return;
    this.links.delete(ifindex);
    if (this.byName.get(cur.name) === ifindex) this.byName.delete(cur.name);
    this.changes.down(cur);
  }
}
