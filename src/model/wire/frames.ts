// Wire v1 as frames (an addition: content type application/x-flowscope-frames, what agents send
// by default): each message is one frame, a JSON header and the numbers of its TCP columns in
// binary, so that a hub reads a batch's rows with DataView into typed arrays and parses JSON only
// for the few things that are not numbers (run, dictionaries, flows, DNS, losses...).
//
// Frame (little-endian): 'FSF1', u32 H, H bytes of UTF-8 JSON (the message as in the JSON form; a
// batch's `tcp_columns` holds only `strings`, `ends` and the rare pairs `failures`,
// `actual_peers`, `requests`), u32 C, C bytes of columns (0: the batch has no TCP columns). The
// columns: u32 rows, then each numeric column of TcpColumnsV1 in NUMERIC_COLUMNS order as u8 kind
// (0 absent: histogram fields only; 1 u8, 2 u16, 3 u32, 4 i32, 5 f64), u32 count, count values.
// A body is frames one after the other (each may be its own gzip member).
import { HISTOGRAM_FIELDS, HISTOGRAM_PARTS, NUMERIC_COLUMNS, type ColumnarBatchV1, type TypedTcpColumns } from './columns.js';
import type { HelloV1, HistogramColumnsV1, TcpColumnsV1 } from './v1.js';

export const FRAMES_CONTENT_TYPE = 'application/x-flowscope-frames';

const MAGIC = 0x31465346; // 'FSF1' read as u32 little-endian
const Kind = { Absent: 0, U8: 1, U16: 2, U32: 3, I32: 4, F64: 5 } as const;
type Kind = (typeof Kind)[keyof typeof Kind];
const WIDTHS = [0, 1, 2, 4, 4, 8];

/** A frame that cannot be read: `field` names where (as a 400 would). */
export class FrameError extends Error {
  constructor(
    readonly field: string,
    why: string,
  ) {
    super(`${field}: ${why}`);
  }
}

function kindOf(v: ArrayLike<number>): Kind {
  let min = 0;
  let max = 0;
  for (let i = 0; i < v.length; i++) {
    const x = v[i]!;
    if (!Number.isInteger(x)) return Kind.F64;
    if (x < min) min = x;
    if (x > max) max = x;
  }
  if (min < 0) return min >= -0x80000000 && max <= 0x7fffffff ? Kind.I32 : Kind.F64;
  return max <= 0xff ? Kind.U8 : max <= 0xffff ? Kind.U16 : max <= 0xffffffff ? Kind.U32 : Kind.F64;
}

const encoder = new TextEncoder();

/** One message as a frame (an agent's encoder). */
export function encodeFrame(m: HelloV1 | ColumnarBatchV1): Uint8Array {
  const columns = m.kind === 'batch' ? m.tcp_columns : undefined;
  let header: unknown = m;
  const parts: Array<{ kind: Kind; values: ArrayLike<number> }> = [];
  if (columns) {
    const { strings, ends, failures, actual_peers, requests } = columns;
    header = { ...m, tcp_columns: { strings, ends, failures, actual_peers, requests } };
    for (const k of NUMERIC_COLUMNS) parts.push({ kind: kindOf(columns[k]), values: columns[k] });
    for (const f of HISTOGRAM_FIELDS) {
      const h = columns[f];
      for (const p of HISTOGRAM_PARTS) parts.push(h ? { kind: kindOf(h[p]), values: h[p] } : { kind: Kind.Absent, values: [] });
    }
  }
  const json = encoder.encode(JSON.stringify(header));
  let size = 4 + 4 + json.length + 4 + (columns ? 4 : 0);
  for (const p of parts) size += 5 + p.values.length * WIDTHS[p.kind]!;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint32(0, MAGIC, true);
  view.setUint32(4, json.length, true);
  out.set(json, 8);
  let at = 8 + json.length;
  view.setUint32(at, size - at - 4, true);
  at += 4;
  if (!columns) return out;
  view.setUint32(at, columns.role.length, true);
  at += 4;
  for (const { kind, values } of parts) {
    view.setUint8(at, kind);
    view.setUint32(at + 1, values.length, true);
    at += 5;
    const n = values.length;
    switch (kind) {
      case Kind.U8:
        for (let i = 0; i < n; i++, at++) view.setUint8(at, values[i]!);
        break;
      case Kind.U16:
        for (let i = 0; i < n; i++, at += 2) view.setUint16(at, values[i]!, true);
        break;
      case Kind.U32:
        for (let i = 0; i < n; i++, at += 4) view.setUint32(at, values[i]!, true);
        break;
      case Kind.I32:
        for (let i = 0; i < n; i++, at += 4) view.setInt32(at, values[i]!, true);
        break;
      case Kind.F64:
        for (let i = 0; i < n; i++, at += 8) view.setFloat64(at, values[i]!, true);
        break;
    }
  }
  return out;
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/** A decoded frame: its header (parsed JSON, not yet checked) and its TCP columns' numbers when it had any. */
export interface DecodedFrame {
  header: unknown;
  columns?: Record<string, Float64Array | Partial<Record<string, Float64Array>> | undefined>;
}

/**
 * The frames of a body, in order. Checks only the framing (magic, lengths, kinds): the headers
 * and the columns' values are for the hub's checks, as in the JSON form.
 */
export function decodeFrames(body: Uint8Array, maxFrames = 10_000): DecodedFrame[] {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const out: DecodedFrame[] = [];
  let at = 0;
  while (at < body.length) {
    const f = `frame[${out.length}]`;
    if (out.length >= maxFrames) throw new FrameError('body', `more than ${maxFrames} frames`);
    if (body.length - at < 8 || view.getUint32(at, true) !== MAGIC) throw new FrameError(f, "does not start with 'FSF1' (not a flowscope frame)");
    const h = view.getUint32(at + 4, true);
    at += 8;
    if (h > body.length - at - 4) throw new FrameError(`${f}.header`, `claims ${h} bytes, more than the body holds`);
    let header: unknown;
    try {
      header = JSON.parse(decoder.decode(body.subarray(at, at + h)));
    } catch (err) {
      throw new FrameError(`${f}.header`, `is not UTF-8 JSON: ${(err as Error).message}`);
    }
    at += h;
    const c = view.getUint32(at, true);
    at += 4;
    if (c > body.length - at) throw new FrameError(`${f}.columns`, `claims ${c} bytes, more than the body holds`);
    out.push(c ? { header, columns: decodeColumns(view, at, at + c, `${f}.columns`) } : { header });
    at += c;
  }
  return out;
}

function decodeColumns(view: DataView, from: number, to: number, field: string): NonNullable<DecodedFrame['columns']> {
  let at = from;
  if (to - at < 4) throw new FrameError(field, 'too short for its row count');
  at += 4; // rows: every dense column says it again in its count (checked with the columns)
  const read = (name: string): Float64Array | undefined => {
    if (to - at < 5) throw new FrameError(`${field}.${name}`, 'missing (the columns end early)');
    const kind = view.getUint8(at);
    const n = view.getUint32(at + 1, true);
    at += 5;
    if (kind > Kind.F64) throw new FrameError(`${field}.${name}`, `unknown kind ${kind} (0-5)`);
    if (kind === Kind.Absent) return undefined;
    const width = WIDTHS[kind]!;
    if (n > (to - at) / width) throw new FrameError(`${field}.${name}`, `claims ${n} values, more than the columns hold`);
    const out = new Float64Array(n);
    switch (kind) {
      case Kind.U8:
        for (let i = 0; i < n; i++, at++) out[i] = view.getUint8(at);
        break;
      case Kind.U16:
        for (let i = 0; i < n; i++, at += 2) out[i] = view.getUint16(at, true);
        break;
      case Kind.U32:
        for (let i = 0; i < n; i++, at += 4) out[i] = view.getUint32(at, true);
        break;
      case Kind.I32:
        for (let i = 0; i < n; i++, at += 4) out[i] = view.getInt32(at, true);
        break;
      default:
        for (let i = 0; i < n; i++, at += 8) out[i] = view.getFloat64(at, true);
    }
    return out;
  };
  const columns: NonNullable<DecodedFrame['columns']> = {};
  for (const k of NUMERIC_COLUMNS) {
    const v = read(k);
    if (!v) throw new FrameError(`${field}.${k}`, 'required');
    columns[k] = v;
  }
  for (const f of HISTOGRAM_FIELDS) {
    const parts: Partial<Record<string, Float64Array>> = {};
    let present = 0;
    for (const p of HISTOGRAM_PARTS) if ((parts[p] = read(`${f}.${p}`))) present++;
    if (present === HISTOGRAM_PARTS.length) columns[f] = parts;
    else if (present) throw new FrameError(`${field}.${f}`, `needs all of ${HISTOGRAM_PARTS.join(', ')} or none`);
  }
  if (at !== to) throw new FrameError(field, `${to - at} bytes left after the last column`);
  return columns;
}

/**
 * The message of a frame with its columns put back into `tcp_columns` (typed arrays); the header
 * as it was when it is not an object or has no columns.
 */
export function frameMessage(frame: DecodedFrame): unknown {
  const { header, columns } = frame;
  if (!columns || typeof header !== 'object' || header === null || Array.isArray(header)) return header;
  const h = header as Record<string, unknown>;
  const dictionaries = h.tcp_columns;
  // Not an object: left for the checks to name (tcp_columns must be an object).
  if (typeof dictionaries !== 'object' || dictionaries === null || Array.isArray(dictionaries)) return header;
  h.tcp_columns = { ...(dictionaries as object), ...columns };
  return h;
}

/** TCP columns with plain arrays (the JSON form's), from a frame's typed ones. */
export function plainColumns(c: TypedTcpColumns | TcpColumnsV1): TcpColumnsV1 {
  const out = { ...c } as unknown as Record<string, unknown>;
  for (const k of NUMERIC_COLUMNS) out[k] = Array.from(c[k]);
  for (const f of HISTOGRAM_FIELDS) {
    const h = c[f];
    if (h) out[f] = { rows: Array.from(h.rows), counts: Array.from(h.counts), sum: Array.from(h.sum), count: Array.from(h.count) } satisfies HistogramColumnsV1;
  }
  for (const k of ['failures', 'actual_peers', 'requests']) if (out[k] === undefined) delete out[k];
  return out as unknown as TcpColumnsV1;
}
