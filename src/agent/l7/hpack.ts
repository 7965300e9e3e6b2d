// HPACK (RFC 7541) decoding for the HTTP/2 header blocks the kernel hands over. One decoder per
// connection and direction keeps the dynamic table in step with the encoder; it keeps the values of
// the few fields the agent reports (KEPT) and, of every other field, only the name and the size the
// table needs: header values never outlive the decoding of their block.

/** Fields whose values the agent reads; every other value is dropped as it is decoded. */
export const KEPT: ReadonlySet<string> = new Set([':method', ':path', ':status', 'grpc-status', 'content-type']);

export class HpackError extends Error {}

// RFC 7541 Appendix A.
const STATIC: ReadonlyArray<readonly [string, string]> = [
  [":authority", ""], [":method", "GET"], [":method", "POST"], [":path", "/"], [":path", "/index.html"],
  [":scheme", "http"], [":scheme", "https"], [":status", "200"], [":status", "204"], [":status", "206"],
  [":status", "304"], [":status", "400"], [":status", "404"], [":status", "500"], ["accept-charset", ""],
  ["accept-encoding", "gzip, deflate"], ["accept-language", ""], ["accept-ranges", ""], ["accept", ""],
  ["access-control-allow-origin", ""], ["age", ""], ["allow", ""], ["authorization", ""],
  ["cache-control", ""], ["content-disposition", ""], ["content-encoding", ""], ["content-language", ""],
  ["content-length", ""], ["content-location", ""], ["content-range", ""], ["content-type", ""],
  ["cookie", ""], ["date", ""], ["etag", ""], ["expect", ""], ["expires", ""], ["from", ""], ["host", ""],
  ["if-match", ""], ["if-modified-since", ""], ["if-none-match", ""], ["if-range", ""],
  ["if-unmodified-since", ""], ["last-modified", ""], ["link", ""], ["location", ""], ["max-forwards", ""],
  ["proxy-authenticate", ""], ["proxy-authorization", ""], ["range", ""], ["referer", ""], ["refresh", ""],
  ["retry-after", ""], ["server", ""], ["set-cookie", ""], ["strict-transport-security", ""],
  ["transfer-encoding", ""], ["user-agent", ""], ["vary", ""], ["via", ""], ["www-authenticate", ""],
];

// RFC 7541 Appendix B: code length of each symbol (0-255, 256 = EOS). The code is canonical: codes
// follow from the lengths, in order of length, then symbol.
const HUFFMAN_LENGTHS: readonly number[] = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28,
  28, 28, 28, 28, 28, 6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6,
  7, 8, 15, 6, 12, 10, 13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13,
  19, 13, 14, 6, 15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11,
  14, 13, 28, 20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23,
  23, 21, 22, 23, 22, 23, 23, 24, 22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22,
  21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23, 26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26,
  24, 25, 19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, 20, 24, 20, 21, 22, 21, 21, 23, 22,
  22, 25, 25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, 30,
];

/** Canonical decoding tables: per code length, the first code, and where its symbols start in SORTED. */
const MAX_LEN = 30;
const FIRST_CODE = new Int32Array(MAX_LEN + 2);
const FIRST_INDEX = new Int32Array(MAX_LEN + 2);
const COUNT = new Int32Array(MAX_LEN + 2);
const SORTED: number[] = [...HUFFMAN_LENGTHS.keys()].sort((a, b) => HUFFMAN_LENGTHS[a]! - HUFFMAN_LENGTHS[b]! || a - b);
{
  for (const l of HUFFMAN_LENGTHS) COUNT[l]!++;
  let code = 0;
  let index = 0;
  for (let len = 1; len <= MAX_LEN; len++) {
    FIRST_CODE[len] = code;
    FIRST_INDEX[len] = index;
    code = (code + COUNT[len]!) << 1;
    index += COUNT[len]!;
  }
}
const EOS = 256;

/**
 * Decodes a Huffman string; with `text` false only counts its octets (the table needs the length of
 * values it does not keep).
 */
export function huffmanDecode(b: Uint8Array, start: number, end: number, text: boolean): { length: number; value: string } {
  let code = 0;
  let len = 0;
  let length = 0;
  let value = '';
  for (let i = start; i < end; i++) {
    const byte = b[i]!;
    for (let bit = 7; bit >= 0; bit--) {
      code = (code << 1) | ((byte >> bit) & 1);
      len++;
      const k = code - FIRST_CODE[len]!;
      if (k >= 0 && k < COUNT[len]!) {
        const sym = SORTED[FIRST_INDEX[len]! + k]!;
        if (sym === EOS) throw new HpackError('EOS symbol inside a Huffman string');
        length++;
        if (text) value += String.fromCharCode(sym);
        code = 0;
        len = 0;
      } else if (len >= MAX_LEN) {
        throw new HpackError('invalid Huffman code');
      }
    }
  }
  // Padding: fewer than 8 bits, all ones (a prefix of EOS).
  if (len > 7 || code !== (1 << len) - 1) throw new HpackError('invalid Huffman padding');
  return { length, value };
}

interface Entry {
  readonly name: string;
  /** '' for fields not in KEPT. */
  readonly value: string;
  readonly size: number;
}

/** A decoded field; `value` is '' for fields not in KEPT. */
export type FieldSink = (name: string, value: string) => void;

const DEFAULT_TABLE_SIZE = 4096;
/** Bigger tables than a peer may announce (SETTINGS_HEADER_TABLE_SIZE) mean a broken stream. */
const MAX_TABLE_SIZE = 1 << 20;

export class HpackDecoder {
  private entries: Entry[] = []; // newest first
  private size = 0;
  private maxSize = DEFAULT_TABLE_SIZE;
  private buf: Uint8Array = new Uint8Array(0);
  private pos = 0;

  get tableSize(): number {
    return this.size;
  }

  /** Decodes one complete header block. Throws HpackError on malformed input; the decoder is then unusable. */
  decode(block: Uint8Array, sink: FieldSink): void {
    this.buf = block;
    this.pos = 0;
    while (this.pos < block.length) {
      const b = block[this.pos]!;
      if (b & 0x80) {
        const e = this.lookup(this.integer(7));
        sink(e.name, e.value);
      } else if (b & 0x40) {
        this.literal(6, true, sink);
      } else if (b & 0x20) {
        const size = this.integer(5);
        if (size > MAX_TABLE_SIZE) throw new HpackError(`table size update to ${size}`);
        this.maxSize = size;
        this.evict(0);
      } else {
        this.literal(4, false, sink); // without indexing, or never indexed
      }
    }
    this.buf = new Uint8Array(0);
  }

  private literal(prefix: number, index: boolean, sink: FieldSink): void {
    const nameIndex = this.integer(prefix);
    const name = nameIndex ? this.lookup(nameIndex).name : this.string(true).value;
    const keep = KEPT.has(name);
    const v = this.string(keep);
    const value = keep ? v.value : '';
    if (index) this.add({ name, value, size: name.length + v.length + 32 });
    sink(name, value);
  }

  private lookup(index: number): Entry {
    if (index === 0) throw new HpackError('index 0');
    if (index <= STATIC.length) {
      const [name, value] = STATIC[index - 1]!;
      return { name, value, size: 0 };
    }
    const e = this.entries[index - STATIC.length - 1];
    if (!e) throw new HpackError(`index ${index} beyond the table (${this.entries.length} dynamic entries)`);
    return e;
  }

  private add(e: Entry): void {
    if (e.size > this.maxSize) {
      this.entries = [];
      this.size = 0;
      return;
    }
    this.evict(e.size);
    this.entries.unshift(e);
    this.size += e.size;
  }

  private evict(room: number): void {
    while (this.size + room > this.maxSize && this.entries.length) this.size -= this.entries.pop()!.size;
  }

  private integer(prefix: number): number {
    const max = (1 << prefix) - 1;
    let v = this.buf[this.pos++]! & max;
    if (v < max) return v;
    let shift = 0;
    for (;;) {
      if (this.pos >= this.buf.length) throw new HpackError('integer runs past the block');
      const b = this.buf[this.pos++]!;
      v += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if (!(b & 0x80)) return v;
      if (shift > 28) throw new HpackError('integer too large');
    }
  }

  /** A string literal; its text only when asked (`text`), its decoded length always. */
  private string(text: boolean): { value: string; length: number } {
    if (this.pos >= this.buf.length) throw new HpackError('string runs past the block');
    const huffman = (this.buf[this.pos]! & 0x80) !== 0;
    const len = this.integer(7);
    const start = this.pos;
    const end = start + len;
    if (end > this.buf.length) throw new HpackError('string runs past the block');
    this.pos = end;
    if (huffman) return huffmanDecode(this.buf, start, end, text);
    return { length: len, value: text ? latin1(this.buf, start, end) : '' };
  }
}

function latin1(b: Uint8Array, start: number, end: number): string {
  let s = '';
  for (let i = start; i < end; i++) s += String.fromCharCode(b[i]!);
  return s;
}
