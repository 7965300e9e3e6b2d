// JSON written as bytes into pooled buffers, for answers of tens of megabytes: integers are written
// digit by digit, fixed text is copied from pre-encoded bytes, and the answer leaves as the buffers
// it was written in (no intermediate strings or objects per value, nothing to stringify).

const CHUNK = 1 << 20;
/** Chunks kept for reuse (an answer of 80 MB would otherwise leave 80 MB of buffers to collect). */
const POOL_MAX = 160;
const pool: Buffer[] = [];

/** Gives an answer's buffers back once they were written out. */
export function releaseJson(buffers: readonly Buffer[]): void {
  for (const b of buffers) {
    const whole = b.byteOffset === 0 && b.buffer.byteLength === CHUNK ? Buffer.from(b.buffer, 0, CHUNK) : undefined;
    if (whole && pool.length < POOL_MAX) pool.push(whole);
  }
}

function chunk(n: number): Buffer {
  if (n <= CHUNK) return pool.pop() ?? Buffer.allocUnsafeSlow(CHUNK);
  return Buffer.allocUnsafeSlow(n);
}
const DIGITS = Buffer.from('0123456789');
/** Up to this many characters, text is copied in a loop rather than by Buffer.write. */
const SHORT = 96;

export class JsonWriter {
  private readonly done: Buffer[] = [];
  private buf = chunk(CHUNK);
  private at = 0;
  private total = 0;

  private room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    this.done.push(this.buf.subarray(0, this.at));
    this.total += this.at;
    this.buf = chunk(n);
    this.at = 0;
  }

  /** Bytes as they are (pre-encoded JSON text). */
  bytes(b: Buffer): this {
    this.room(b.length);
    b.copy(this.buf, this.at);
    this.at += b.length;
    return this;
  }

  /** Bytes from..to of `b` as they are (pre-encoded JSON text). */
  slice(b: Buffer, from: number, to: number): this {
    this.room(to - from);
    b.copy(this.buf, this.at, from, to);
    this.at += to - from;
    return this;
  }

  /** Text known to be ASCII and already valid JSON (punctuation, keys, numbers). */
  raw(s: string): this {
    const n = s.length;
    this.room(n);
    if (n > SHORT) {
      this.at += this.buf.write(s, this.at, 'latin1');
      return this;
    }
    // Short text: a loop here is several times cheaper than a call into Buffer.write.
    const buf = this.buf;
    let at = this.at;
    for (let i = 0; i < n; i++) buf[at++] = s.charCodeAt(i);
    this.at = at;
    return this;
  }

  /** Any JSON text, UTF-8 (e.g. a JSON.stringify result, which may hold non-ASCII). */
  utf8(s: string): this {
    const n = s.length;
    if (n <= SHORT) {
      this.room(n);
      const buf = this.buf;
      let at = this.at;
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c > 0x7f) break;
        buf[at++] = c;
      }
      if (i === n) {
        this.at = at;
        return this;
      }
    }
    const bytes = Buffer.byteLength(s);
    this.room(bytes);
    this.at += this.buf.write(s, this.at, bytes, 'utf8');
    return this;
  }

  /** A string value, quoted and escaped. */
  string(s: string): this {
    return this.utf8(JSON.stringify(s));
  }

  /** A number (null when not finite, as JSON.stringify writes it). */
  number(n: number): this {
    if (Number.isInteger(n) && n >= 0 && n < 1e15) {
      this.room(16);
      if (n === 0) {
        this.buf[this.at++] = 0x30;
        return this;
      }
      let len = 0;
      for (let x = n; x >= 1; x = Math.floor(x / 10)) len++;
      let i = this.at + len;
      for (let x = n; x >= 1; x = Math.floor(x / 10)) this.buf[--i] = DIGITS[x % 10]!;
      this.at += len;
      return this;
    }
    return this.raw(Number.isFinite(n) ? String(n) : 'null');
  }

  /** A non-negative number with at most 9 decimals (seconds to the nanosecond), written without a string. */
  decimal9(v: number): this {
    const ns = Math.round(v * 1e9);
    if (!(ns >= 0 && ns < 1e15)) return this.number(v);
    const whole = Math.floor(ns / 1e9);
    let frac = ns - whole * 1e9;
    this.number(whole);
    if (frac === 0) return this;
    let digits = 9;
    while (frac % 10 === 0) {
      frac /= 10;
      digits--;
    }
    this.room(10);
    const buf = this.buf;
    buf[this.at] = 0x2e;
    for (let i = digits; i >= 1; i--) {
      buf[this.at + i] = DIGITS[frac % 10]!;
      frac = Math.floor(frac / 10);
    }
    this.at += digits + 1;
    return this;
  }

  /** Seconds (decimal9) or null. */
  secondsOrNull(v: number | null): this {
    return v === null ? this.raw('null') : this.decimal9(v);
  }

  /** A number or null. */
  numberOrNull(n: number | null): this {
    return n === null ? this.raw('null') : this.number(n);
  }

  get length(): number {
    return this.total + this.at;
  }

  /** The written bytes, in order (the writer is done). */
  finish(): Buffer[] {
    if (this.at) this.done.push(this.buf.subarray(0, this.at));
    this.total += this.at;
    this.at = 0;
    this.buf = Buffer.alloc(0);
    return this.done;
  }
}

/**
 * JSON text per item number (e.g. an edge's fixed members), encoded once and kept in one growing
 * buffer: answers copy the bytes instead of encoding the same strings again (no object per item).
 */
export class JsonBytesCache {
  private buf = Buffer.allocUnsafe(1 << 16);
  private used = 0;
  private start = new Int32Array(0);
  private end = new Int32Array(0);

  /** Writes item `i`'s text, made (by `make`) the first time it is asked for. */
  write(w: JsonWriter, i: number, make: () => string): void {
    const from = this.ensure(i, make);
    w.slice(this.buf, from, this.end[i]!);
  }

  /** Makes item `i`'s text (by `make`) unless it is kept already; returns where it starts. */
  ensure(i: number, make: () => string): number {
    if (i >= this.start.length) this.growIndex(i + 1);
    let from = this.start[i]!;
    if (from < 0) {
      const text = make();
      const n = Buffer.byteLength(text);
      if (this.used + n > this.buf.length) {
        const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.used + n));
        this.buf.copy(bigger, 0, 0, this.used);
        this.buf = bigger;
      }
      from = this.used;
      this.used += this.buf.write(text, from, n, 'utf8');
      this.start[i] = from;
      this.end[i] = this.used;
    }
    return from;
  }

  private growIndex(n: number): void {
    const size = Math.max(n, this.start.length * 2, 1024);
    const start = new Int32Array(size).fill(-1);
    start.set(this.start);
    const end = new Int32Array(size);
    end.set(this.end);
    this.start = start;
    this.end = end;
  }

  /** Bytes held (for memory accounting). */
  get bytes(): number {
    return this.used;
  }
}
