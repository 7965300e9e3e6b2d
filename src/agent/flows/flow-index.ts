// Flows by their 44-byte kernel key, looked up straight from a batch's DataView: a 32-bit FNV-1a
// hash of the key's eleven words indexes a Map, collisions chain, and keys compare word by word.
// No string or buffer is made per record per interval.
export const KEY_SIZE = 44;
const WORDS = KEY_SIZE / 4;

export interface Indexed {
  keyWords: Uint32Array;
  hash: number;
  next: this | undefined;
}

export function keyHash(view: DataView, off: number, words = WORDS): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < words; i++) {
    h ^= view.getUint32(off + i * 4, true);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export function keyWords(view: DataView, off: number, words = WORDS): Uint32Array {
  const w = new Uint32Array(words);
  for (let i = 0; i < words; i++) w[i] = view.getUint32(off + i * 4, true);
  return w;
}

/** The key's IP protocol, from its words (struct flow_key: family, proto, direction at bytes 40-42). */
export function keyProto(w: Uint32Array): number {
  return (w[10]! >>> 8) & 0xff;
}

function sameKey(w: Uint32Array, view: DataView, off: number): boolean {
  for (let i = 0; i < w.length; i++) if (w[i] !== view.getUint32(off + i * 4, true)) return false;
  return true;
}

export class FlowIndex<T extends Indexed> {
  private readonly heads = new Map<number, T>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** `words`: the key's size in 32-bit words (flow keys: 11). */
  constructor(readonly words = WORDS) {}

  get(view: DataView, off: number, hash = keyHash(view, off, this.words)): T | undefined {
    for (let e = this.heads.get(hash); e; e = e.next) if (sameKey(e.keyWords, view, off)) return e;
    return undefined;
  }

  /** Adds an entry whose key is not in the index yet. */
  add(e: T): void {
    e.next = this.heads.get(e.hash);
    this.heads.set(e.hash, e);
    this.count++;
  }

  remove(e: T): void {
    let head = this.heads.get(e.hash);
    if (head === e) {
      if (e.next) this.heads.set(e.hash, e.next);
      else this.heads.delete(e.hash);
      this.count--;
      e.next = undefined;
      return;
    }
    for (; head; head = head.next) {
      if (head.next === e) {
        head.next = e.next;
        this.count--;
        e.next = undefined;
        return;
      }
    }
  }

  *values(): IterableIterator<T> {
    for (const head of this.heads.values()) for (let e: T | undefined = head; e; e = e.next) yield e;
  }

  clear(): void {
    this.heads.clear();
    this.count = 0;
  }
}

/** Kernel keys (packed, as batch deletes take them) with the states they belong to, gathered over an interval. */
export class PackedKeys<T> {
  private keys: Buffer;
  readonly states: T[] = [];

  constructor(private readonly keySize: number) {
    this.keys = Buffer.alloc(256 * keySize);
  }

  get count(): number {
    return this.states.length;
  }

  /** Adds the key at `off` in `from` and its state. */
  push(from: Buffer, off: number, state: T): void {
    const at = this.states.length * this.keySize;
    if (this.keys.length < at + this.keySize) {
      const bigger = Buffer.alloc(this.keys.length * 2);
      this.keys.copy(bigger, 0, 0, at);
      this.keys = bigger;
    }
    from.copy(this.keys, at, off, off + this.keySize);
    this.states.push(state);
  }

  /** Deletes the keys from `map` in one call, then hands each state to `each`, and empties itself. */
  deleteFrom(map: { deleteMany(keys: Buffer, count: number): number }, each: (state: T) => void): void {
    if (!this.states.length) return;
    map.deleteMany(this.keys, this.states.length);
    for (const st of this.states) each(st);
    this.states.length = 0;
  }
}
