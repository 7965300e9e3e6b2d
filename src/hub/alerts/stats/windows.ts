// Sliding-window sums per slot (an edge), kept as a ring of time buckets: every window of a set
// ends at the current bucket and spans whole buckets (the current one is partial, so a window of
// k buckets covers between k-1 and k bucket widths of data). Buckets are aligned to absolute time
// (bucket n starts at n x width), so that data from any agent lands in the same bucket.
//
// One Float32Array holds every slot's ring (slot-major: one slot's buckets are contiguous) and one
// its window sums; adding data updates the sums at once, and a move to a new bucket recomputes them
// from the ring (no drift from adding and subtracting floats).

export class WindowSet {
  /** Ring length in buckets: the longest window, plus the bucket being filled. */
  readonly buckets: number;
  private ring: Float32Array;
  private sums: Float32Array;
  private capacity: number;
  /** Absolute index of the current bucket (-1: none yet). */
  private cur = -1;

  constructor(
    readonly widthMs: number,
    /** Window lengths, in buckets. */
    readonly windows: readonly number[],
    readonly fields: number,
    initialSlots = 1024,
  ) {
    this.buckets = Math.max(...windows) + 1;
    this.capacity = Math.max(1, initialSlots);
    this.ring = new Float32Array(this.capacity * this.buckets * fields);
    this.sums = new Float32Array(this.capacity * windows.length * fields);
  }

  /** Bytes held per slot. */
  get bytesPerSlot(): number {
    return (this.buckets + this.windows.length) * this.fields * 4;
  }

  get currentBucket(): number {
    return this.cur;
  }

  bucketOf(tMs: number): number {
    return Math.floor(tMs / this.widthMs);
  }

  /** Makes room for slots [0, n). */
  ensure(n: number): void {
    if (n <= this.capacity) return;
    let cap = this.capacity;
    while (cap < n) cap *= 2;
    const ring = new Float32Array(cap * this.buckets * this.fields);
    ring.set(this.ring);
    const sums = new Float32Array(cap * this.windows.length * this.fields);
    sums.set(this.sums);
    this.ring = ring;
    this.sums = sums;
    this.capacity = cap;
  }

  /** Moves the current bucket forward to `bucket` for every slot below `slots`; data that left every window is gone. */
  advanceTo(bucket: number, slots: number): void {
    if (bucket <= this.cur) return;
    const { buckets: B, fields: F } = this;
    if (this.cur < 0 || bucket - this.cur >= B) {
      this.ring.fill(0);
      this.sums.fill(0);
      this.cur = bucket;
      return;
    }
    const from = this.cur + 1;
    this.cur = bucket;
    this.recompute(slots, from);
  }

  /** Clears buckets [from, cur] and recomputes every slot's sums from its ring, slot by slot. */
  private recompute(slots: number, from = this.cur + 1): void {
    const { buckets: B, fields: F, windows, ring, sums, cur } = this;
    const W = windows.length;
    const K = this.buckets - 1;
    for (let s = 0; s < slots; s++) {
      const base = s * B * F;
      for (let b = from; b <= cur; b++) ring.fill(0, base + (b % B) * F, base + ((b % B) + 1) * F);
      const at0 = s * W * F;
      sums.fill(0, at0, at0 + W * F);
      // Walk back from the current bucket once; each window takes the buckets it spans.
      for (let i = 0; i < K; i++) {
        const src = base + ((((cur - i) % B) + B) % B) * F;
        for (let w = 0; w < W; w++) {
          if (i >= windows[w]!) continue;
          const at = at0 + w * F;
          for (let f = 0; f < F; f++) sums[at + f]! += ring[src + f]!;
        }
      }
    }
  }

  /**
   * Adds values (one per field) to a slot's bucket. The bucket must not be ahead of the current
   * one (move first); a bucket older than the ring is refused (false).
   */
  add(slot: number, bucket: number, values: ArrayLike<number>): boolean {
    const age = this.cur - bucket;
    if (age < 0 || age >= this.buckets) return false;
    const { buckets: B, fields: F, windows } = this;
    const at = (slot * B + (bucket % B)) * F;
    for (let f = 0; f < F; f++) this.ring[at + f]! += values[f]!;
    const W = windows.length;
    for (let w = 0; w < W; w++) {
      if (age >= windows[w]!) continue;
      const s = (slot * W + w) * F;
      for (let f = 0; f < F; f++) this.sums[s + f]! += values[f]!;
    }
    return true;
  }

  /** Every slot's window sums (read with offset()). */
  get sumsArray(): Float32Array {
    return this.sums;
  }

  /** Where a slot's sums of window w start in sumsArray (one value per field from there). */
  offset(slot: number, w: number): number {
    return (slot * this.windows.length + w) * this.fields;
  }

  /** A slot's sum of one field over window w (an index into `windows`). */
  sum(slot: number, w: number, field: number): number {
    return this.sums[(slot * this.windows.length + w) * this.fields + field]!;
  }

  /** Clears a slot (reused for another edge). */
  clear(slot: number): void {
    const { buckets: B, fields: F } = this;
    this.ring.fill(0, slot * B * F, (slot + 1) * B * F);
    const W = this.windows.length;
    this.sums.fill(0, slot * W * F, (slot + 1) * W * F);
  }

  /** The state of slots [0, n) as bytes (for saving), and back. */
  snapshot(n: number): { cur: number; ring: Uint8Array } {
    const len = n * this.buckets * this.fields;
    return { cur: this.cur, ring: new Uint8Array(this.ring.buffer, this.ring.byteOffset, len * 4).slice() };
  }

  restore(snap: { cur: number; ring: Uint8Array }, n: number): boolean {
    const len = n * this.buckets * this.fields;
    if (snap.ring.byteLength !== len * 4) return false;
    this.ensure(n);
    this.ring.fill(0);
    this.ring.set(new Float32Array(snap.ring.buffer.slice(snap.ring.byteOffset, snap.ring.byteOffset + snap.ring.byteLength)));
    this.cur = snap.cur;
    this.recompute(n, snap.cur + 1);
    return true;
  }
}
