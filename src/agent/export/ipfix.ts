// IPFIX export over UDP (RFC 7011): one template for IPv4 flows and one for IPv6, re-sent
// periodically as RFC 7011 section 8.4 asks of UDP exporters, and data sets packed into messages
// that fit a 1500-byte path. Records are the agent's finished flows (idle timeout, or at stop).
import dgram from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { FlowRecord } from '../../model/records.js';

const VERSION = 10;
const TEMPLATE_SET = 2;
const TEMPLATE_V4 = 256;
const TEMPLATE_V6 = 257;
const MAX_MESSAGE = 1400;

/** Information elements (IANA IPFIX registry): [id, length]. */
const COMMON_TAIL: Array<[number, number]> = [
  [7, 2], // sourceTransportPort
  [11, 2], // destinationTransportPort
  [4, 1], // protocolIdentifier
  [6, 2], // tcpControlBits
  [2, 8], // packetDeltaCount
  [1, 8], // octetDeltaCount
  [152, 8], // flowStartMilliseconds
  [153, 8], // flowEndMilliseconds
  [10, 4], // ingressInterface
  [14, 4], // egressInterface
  [61, 1], // flowDirection (0 ingress, 1 egress)
];
const V4_FIELDS: Array<[number, number]> = [[8, 4], [12, 4], ...COMMON_TAIL]; // sourceIPv4Address, destinationIPv4Address
const V6_FIELDS: Array<[number, number]> = [[27, 16], [28, 16], ...COMMON_TAIL]; // sourceIPv6Address, destinationIPv6Address
const recordSize = (f: Array<[number, number]>): number => f.reduce((a, [, l]) => a + l, 0);
export const V4_RECORD = recordSize(V4_FIELDS);
export const V6_RECORD = recordSize(V6_FIELDS);

function templateSet(): Buffer {
  const parts: Buffer[] = [];
  for (const [id, fields] of [
    [TEMPLATE_V4, V4_FIELDS],
    [TEMPLATE_V6, V6_FIELDS],
  ] as const) {
    const b = Buffer.alloc(4 + fields.length * 4);
    b.writeUInt16BE(id, 0);
    b.writeUInt16BE(fields.length, 2);
    fields.forEach(([ie, len], i) => {
      b.writeUInt16BE(ie, 4 + i * 4);
      b.writeUInt16BE(len, 6 + i * 4);
    });
    parts.push(b);
  }
  const body = Buffer.concat(parts);
  const set = Buffer.alloc(4);
  set.writeUInt16BE(TEMPLATE_SET, 0);
  set.writeUInt16BE(4 + body.length, 2);
  return Buffer.concat([set, body]);
}

function writeV4(b: Buffer, o: number, a: string): number {
  for (const p of a.split('.')) b.writeUInt8(Number(p), o++);
  return o;
}

function writeV6(b: Buffer, o: number, a: string): number {
  const [head, tail] = a.includes('::') ? a.split('::') : [a, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  for (const g of groups) {
    b.writeUInt16BE(parseInt(g || '0', 16), o);
    o += 2;
  }
  return o;
}

/** Encodes one data record at `o` (the template is chosen by the address family); returns the end. */
export function encodeRecord(b: Buffer, o: number, r: FlowRecord): number {
  const v6 = r.family === 6;
  o = v6 ? writeV6(b, o, r.saddr) : writeV4(b, o, r.saddr);
  o = v6 ? writeV6(b, o, r.daddr) : writeV4(b, o, r.daddr);
  b.writeUInt16BE(r.sport, o);
  b.writeUInt16BE(r.dport, o + 2);
  b.writeUInt8(r.proto, o + 4);
  b.writeUInt16BE(r.tcp_flags, o + 5);
  b.writeBigUInt64BE(BigInt(r.packets), o + 7);
  b.writeBigUInt64BE(BigInt(r.bytes), o + 15);
  b.writeBigUInt64BE(BigInt(Math.round(Date.parse(r.start))), o + 23);
  b.writeBigUInt64BE(BigInt(Math.round(Date.parse(r.end))), o + 31);
  b.writeUInt32BE(r.direction === 'ingress' ? r.ifindex : 0, o + 39);
  b.writeUInt32BE(r.direction === 'egress' ? r.ifindex : 0, o + 43);
  b.writeUInt8(r.direction === 'ingress' ? 0 : 1, o + 47);
  return o + 48;
}

export interface IpfixOptions {
  host: string;
  port: number;
  observationDomain?: number;
  /** Templates are re-sent at least this often (default 60 s) and in the first message. */
  templateIntervalMs?: number;
}

export class IpfixExporter {
  private readonly socket: dgram.Socket;
  private readonly templates = templateSet();
  private sequence = 0;
  private lastTemplateMs = 0;
  private readonly pending: FlowRecord[] = [];
  sentMessages = 0;
  sentRecords = 0;
  errors = 0;

  constructor(private readonly options: IpfixOptions) {
    this.socket = dgram.createSocket(isIPv6(options.host) ? 'udp6' : 'udp4');
    this.socket.on('error', () => this.errors++);
    this.socket.unref();
  }

  get target(): string {
    return `${this.options.host.includes(':') ? `[${this.options.host}]` : this.options.host}:${this.options.port} (UDP, templates ${TEMPLATE_V4}/${TEMPLATE_V6})`;
  }

  add(r: FlowRecord): void {
    this.pending.push(r);
    if (this.pending.length >= 4096) this.flush();
  }

  /** Sends everything pending, as as few messages as fit. */
  flush(nowMs = Date.now()): void {
    let i = 0;
    while (i < this.pending.length || (i === 0 && nowMs - this.lastTemplateMs > (this.options.templateIntervalMs ?? 60_000) && this.sentMessages > 0)) {
      const parts: Buffer[] = [];
      let size = 16;
      if (this.sentMessages === 0 || nowMs - this.lastTemplateMs > (this.options.templateIntervalMs ?? 60_000)) {
        parts.push(this.templates);
        size += this.templates.length;
        this.lastTemplateMs = nowMs;
      }
      let records = 0;
      // One data set per family, in runs: records of one family go together while they fit.
      while (i < this.pending.length) {
        const v6 = this.pending[i]!.family === 6;
        const rs = v6 ? V6_RECORD : V4_RECORD;
        if (size + 4 + rs > MAX_MESSAGE) break;
        const room = Math.floor((MAX_MESSAGE - size - 4) / rs);
        const run: FlowRecord[] = [];
        while (i < this.pending.length && run.length < room && (this.pending[i]!.family === 6) === v6) run.push(this.pending[i++]!);
        const set = Buffer.alloc(4 + run.length * rs);
        set.writeUInt16BE(v6 ? TEMPLATE_V6 : TEMPLATE_V4, 0);
        set.writeUInt16BE(set.length, 2);
        let o = 4;
        for (const r of run) o = encodeRecord(set, o, r);
        parts.push(set);
        size += set.length;
        records += run.length;
      }
      const header = Buffer.alloc(16);
      header.writeUInt16BE(VERSION, 0);
      header.writeUInt16BE(size, 2);
      header.writeUInt32BE(Math.floor(nowMs / 1000), 4);
      header.writeUInt32BE(this.sequence >>> 0, 8); // counts data records sent before this message
      header.writeUInt32BE(this.options.observationDomain ?? 1, 12);
      this.socket.send(Buffer.concat([header, ...parts]), this.options.port, this.options.host);
      this.sequence += records;
      this.sentMessages++;
      this.sentRecords += records;
      if (records === 0) break;
    }
    this.pending.length = 0;
  }

  async close(): Promise<void> {
    this.flush();
    // Let the last datagrams leave before closing the socket.
    await new Promise((r) => setTimeout(r, 50));
    this.socket.close();
  }
}
