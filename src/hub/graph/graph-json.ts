// The graph answer (and the neighbourhood's) written as JSON bytes straight from a view's totals:
// no object or string per edge on the way (at 100,000 edges, building GraphEdge objects and
// stringifying them took most of the answer's time). The shapes are the API's Graph, GraphEdge
// and SideView.
import { FAIL_REASONS } from '../../model/edge.js';
import { JsonBytesCache, JsonWriter } from '../../lib/json-writer.js';
import { C, REQUEST_STATUSES, quantileOfRows, requestSide, requestsAt, round } from './counters.js';
import type { ViewIndex } from './view-index.js';
import { edgeRows, type ViewTotals } from './view-totals.js';

const rows = edgeRows();

const NONE = new Float64Array(0);

function side(w: JsonWriter, v: Float64Array, at: number): void {
  let failures = 0;
  for (let i = 0; i < FAIL_REASONS.length; i++) failures += v[at + C.failures + i]!;
  w.raw('{"connections":').number(round(v[at + C.opened]!));
  w.raw(',"active":').number(round(v[at + C.active]!));
  w.raw(',"failures":').number(round(failures));
  w.raw(',"bytes_sent":').number(round(v[at + C.bytesSent]!));
  w.raw(',"bytes_received":').number(round(v[at + C.bytesReceived]!));
  w.raw(',"retransmits":').number(round(v[at + C.retransmits]!));
  w.raw(',"resets_sent":').number(round(v[at + C.resetsSent]!));
  w.raw(',"resets_received":').number(round(v[at + C.resetsReceived]!));
  w.raw(',"rtt_p50_seconds":').secondsOrNull(quantileOfRows(0.5, 'rtt', v, at, NONE, -1));
  w.raw(',"rtt_p99_seconds":').secondsOrNull(quantileOfRows(0.99, 'rtt', v, at, NONE, -1));
  if (requestsAt(v, at) > 0) {
    w.raw(',"requests":').number(round(v[at + C.requests]!));
    w.raw(',"request_errors":').number(round(v[at + C.requestErrors]!));
  }
  w.raw('}');
}

/** `"2xx":`, `"grpc:OK":`... (written as they are: no escaping per edge). */
const STATUS_KEYS = REQUEST_STATUSES.map((k) => `${JSON.stringify(k)}:`);
const NEXT_STATUS_KEYS = STATUS_KEYS.map((k) => `,${k}`);

/** The edge's request members (only when a side saw requests): the side that saw more counts. */
function requestMembers(w: JsonWriter, c: Float64Array, ca: number, s: Float64Array, sa: number): void {
  const which = requestSide(c, ca, s, sa);
  if (which < 0) return;
  const v = which === 0 ? c : s;
  const at = which === 0 ? ca : sa;
  w.raw(',"requests":').number(round(v[at + C.requests]!));
  w.raw(',"request_errors":').number(round(v[at + C.requestErrors]!));
  w.raw(',"requests_by_status":{');
  let first = true;
  for (let i = 0; i < REQUEST_STATUSES.length; i++) {
    const n = v[at + C.statuses + i]!;
    if (n > 0) {
      w.raw(first ? STATUS_KEYS[i]! : NEXT_STATUS_KEYS[i]!).number(round(n));
      first = false;
    }
  }
  w.raw('},"request_p50_seconds":').secondsOrNull(quantileOfRows(0.5, 'request', v, at, NONE, -1));
  w.raw(',"request_p99_seconds":').secondsOrNull(quantileOfRows(0.99, 'request', v, at, NONE, -1));
}

/** What repeats in every answer of a view, as JSON text kept with its index. */
interface Encoded {
  /** Per view edge: `{"id":...,"source":...,"target":...,"port":...,"protocol":...` (they never change). */
  edgeHeads: JsonBytesCache;
  /** Per view node: `{"id":...,"kind":...,"name":...,"labels":`. */
  nodeHeads: JsonBytesCache;
  /** Per endpoint of the index: its labels in this view. */
  endpointLabels: JsonBytesCache;
  /** Per view node: its labels when every member had traffic, and how many members it had then. */
  allLabels: string[];
  allMembers: number[];
}

const encoded = new WeakMap<ViewIndex, Encoded>();

function encodedOf(index: ViewIndex): Encoded {
  let e = encoded.get(index);
  if (!e) encoded.set(index, (e = { edgeHeads: new JsonBytesCache(), nodeHeads: new JsonBytesCache(), endpointLabels: new JsonBytesCache(), allLabels: [], allMembers: [] }));
  return e;
}

const edgeHead = (index: ViewIndex, ve: number): string =>
  `{"id":${JSON.stringify(index.edgeId(ve))},"source":${JSON.stringify(index.nodeIds[index.source[ve]!])},"target":${JSON.stringify(index.nodeIds[index.target[ve]!])},"port":${index.port[ve]},"protocol":${JSON.stringify(index.protocol[ve])}`;

const nodeHead = (index: ViewIndex, node: number): string =>
  `{"id":${JSON.stringify(index.nodeIds[node])},"kind":${JSON.stringify(index.nodeKinds[node])},"name":${JSON.stringify(index.nodeNames[node])},"labels":`;

/**
 * Encodes the heads of the view edges numbered [from, to) and of every view node now (what the
 * first answer of a view would otherwise make): for warming a view a slice at a time.
 */
export function encodeHeads(index: ViewIndex, from: number, to: number): void {
  const e = encodedOf(index);
  for (let ve = from; ve < Math.min(to, index.edgeCount); ve++) e.edgeHeads.ensure(ve, () => edgeHead(index, ve));
  if (to >= index.edgeCount) for (let node = 0; node < index.nodeCount; node++) e.nodeHeads.ensure(node, () => nodeHead(index, node));
}

/** One edge of the view's totals at `pos`, as GraphEdge JSON; `extra` is JSON members to add (`,"alerts":[...]`). */
export function writeEdge(w: JsonWriter, t: ViewTotals, pos: number, extra = '', withSides = true): void {
  const { index } = t;
  const ve = t.edges[pos]!;
  const { c, ca, s, sa, m, ma } = t.rowsAt(pos, rows);
  const fromClient = ca >= 0;
  encodedOf(index).edgeHeads.write(w, ve, () => edgeHead(index, ve));
  w.raw(',"connections":').number(round(m[ma + C.opened]!));
  w.raw(',"active":').number(round(m[ma + C.active]!));
  w.raw(',"failures":{');
  if (ca >= 0) {
    let first = true;
    for (let i = 0; i < FAIL_REASONS.length; i++) {
      const n = c[ca + C.failures + i]!;
      if (n > 0) {
        w.raw(first ? '"' : ',"').raw(FAIL_REASONS[i]!).raw('":').number(round(n));
        first = false;
      }
    }
  }
  w.raw('},"bytes_sent":').number(round(fromClient ? m[ma + C.bytesSent]! : m[ma + C.bytesReceived]!));
  w.raw(',"bytes_received":').number(round(fromClient ? m[ma + C.bytesReceived]! : m[ma + C.bytesSent]!));
  w.raw(',"retransmits":').number(round((ca >= 0 ? c[ca + C.retransmits]! : 0) + (sa >= 0 ? s[sa + C.retransmits]! : 0)));
  w.raw(',"resets":').number(round(m[ma + C.resetsSent]! + m[ma + C.resetsReceived]!));
  w.raw(',"rtt_p50_seconds":').secondsOrNull(quantileOfRows(0.5, 'rtt', c, ca, s, sa));
  w.raw(',"rtt_p99_seconds":').secondsOrNull(quantileOfRows(0.99, 'rtt', c, ca, s, sa));
  w.raw(',"connect_p50_seconds":').secondsOrNull(quantileOfRows(0.5, 'connect', c, ca, NONE, -1));
  w.raw(',"connect_p99_seconds":').secondsOrNull(quantileOfRows(0.99, 'connect', c, ca, NONE, -1));
  requestMembers(w, c, ca, s, sa);
  w.raw(ca >= 0 && sa >= 0 ? ',"sides":["client","server"]' : ca >= 0 ? ',"sides":["client"]' : ',"sides":["server"]');
  if (withSides) {
    w.raw(',"client":');
    if (ca >= 0) side(w, c, ca);
    else w.raw('null');
    w.raw(',"server":');
    if (sa >= 0) side(w, s, sa);
    else w.raw('null');
  }
  if (extra) w.utf8(extra);
  w.raw('}');
}

export function writeNode(w: JsonWriter, t: ViewTotals, node: number, extra = ''): void {
  const { index } = t;
  const e = encodedOf(index);
  e.nodeHeads.write(w, node, () => nodeHead(index, node));
  // The labels depend on which members had traffic: the two common cases (one member, or all of
  // them) are kept encoded; a mix is worked out.
  const members = index.nodeMembers[node]!;
  const present = t.presentMember(node);
  if (present.count <= 1) e.endpointLabels.write(w, present.only, () => JSON.stringify(index.endpointLabels[present.only]));
  else if (present.count === members.length) {
    if (e.allMembers[node] !== members.length) {
      e.allLabels[node] = JSON.stringify(t.nodeLabels(node));
      e.allMembers[node] = members.length;
    }
    w.utf8(e.allLabels[node]!);
  } else w.utf8(JSON.stringify(t.nodeLabels(node)));
  if (extra) w.utf8(extra);
  w.raw('}');
}

export interface GraphJsonOptions {
  from: number;
  to: number;
  /** Only these positions (default: all). */
  keep?: (pos: number) => boolean;
  /** Members to add to an edge (`,"alerts":[...]`), or ''. */
  edgeExtra?: (pos: number) => string;
  /** Members to add at the top level after the edges (`,"node":"..."`). */
  tail?: string;
  /** Each edge with its client's and server's own views. */
  sides?: boolean;
}

/** The Graph answer as JSON bytes (in buffers): nodes with traffic (ends of the edges kept), then the edges. */
export function graphJson(t: ViewTotals, o: GraphJsonOptions): Buffer[] {
  const w = new JsonWriter();
  const keep = o.keep ?? (() => true);
  w.raw('{"view":').string(t.index.name);
  w.raw(`,"from":"${new Date(o.from).toISOString()}","to":"${new Date(o.to).toISOString()}","nodes":[`);
  let first = true;
  for (const node of t.nodes(keep)) {
    if (!first) w.raw(',');
    writeNode(w, t, node);
    first = false;
  }
  w.raw('],"edges":[');
  first = true;
  for (let pos = 0; pos < t.size; pos++) {
    if (!keep(pos)) continue;
    if (!first) w.raw(',');
    writeEdge(w, t, pos, o.edgeExtra?.(pos) ?? '', o.sides ?? false);
    first = false;
  }
  w.raw(']');
  if (o.tail) w.utf8(o.tail);
  w.raw('}');
  return w.finish();
}
