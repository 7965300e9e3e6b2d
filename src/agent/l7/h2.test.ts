import { test } from 'node:test';
import assert from 'node:assert/strict';
import { H2Tracker, stripQuery, type H2Frame } from './h2.js';
import type { Exchange, L7Conn } from '../../model/requests.js';

const conn: L7Conn = { sk: 9, pid: 1, comm: 'grpc', cgroupId: 1, netns: 1, family: 2, local: '127.0.0.1', peer: '127.0.0.1', localPort: 50051, peerPort: 40000 };
const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const lit = (name: string, value: string): string => {
  // literal with incremental indexing, new name, no Huffman
  const n = Buffer.from(name);
  const v = Buffer.from(value);
  return `40${n.length.toString(16).padStart(2, '0')}${n.toString('hex')}${v.length.toString(16).padStart(2, '0')}${v.toString('hex')}`;
};
const frame = (f: Partial<H2Frame> & { payload: Uint8Array }): H2Frame => ({ conn, received: true, frameType: 1, frameFlags: 0x4, streamId: 1, truncated: false, tls: false, tsNs: 0, ...f });

test('a gRPC call: request HEADERS, response HEADERS, trailers with grpc-status; indexed fields resolved from the table', () => {
  const out: Exchange[] = [];
  const t = new H2Tracker((x) => out.push(x));
  // :method POST (static 3), :path literal indexed with static name 4, content-type literal (static name 31)
  const path = Buffer.from('/helloworld.Greeter/SayHello');
  const reqBlock = hex(`83 44${path.length.toString(16)}${path.toString('hex')} 5f10${Buffer.from('application/grpc').toString('hex')}`);
  t.frame(frame({ payload: reqBlock, streamId: 1, tsNs: 1_000 }));
  t.frame(frame({ received: false, payload: hex('88'), streamId: 1, tsNs: 2_000 })); // :status 200
  t.frame(frame({ received: false, payload: hex(lit('grpc-status', '5')), frameFlags: 0x5, streamId: 1, tsNs: 5_000 }));
  // a second call on the same connection: the request refers to the dynamic table (:path, content-type)
  t.frame(frame({ payload: hex('83 bf be'), streamId: 3, tsNs: 10_000 }));
  t.frame(frame({ received: false, payload: hex('88'), streamId: 3, tsNs: 11_000 }));
  t.frame(frame({ received: false, payload: hex('be'), frameFlags: 0x5, streamId: 3, tsNs: 12_000 })); // grpc-status 5 again, indexed
  assert.equal(out.length, 2);
  assert.deepEqual(out.map((x) => [x.role, x.method, x.path, x.status, x.grpc?.service, x.grpc?.method, x.grpc?.code, x.endNs - x.startNs]), [
    ['server', 'POST', '/helloworld.Greeter/SayHello', 200, 'helloworld.Greeter', 'SayHello', 'NOT_FOUND', 4_000],
    ['server', 'POST', '/helloworld.Greeter/SayHello', 200, 'helloworld.Greeter', 'SayHello', 'NOT_FOUND', 2_000],
  ]);
  assert.equal(t.desyncs, 0);
});

test('a truncated header block loses that direction\'s HPACK state, counted; a reset ends a stream', () => {
  const out: Exchange[] = [];
  const t = new H2Tracker((x) => out.push(x));
  t.frame(frame({ payload: hex('82 84'), streamId: 1, tsNs: 0 })); // GET /
  t.frame(frame({ received: false, frameType: 3, frameFlags: 0, payload: new Uint8Array(0), streamId: 1, tsNs: 7 }));
  assert.deepEqual(out.map((x) => [x.method, x.path, x.status, x.end]), [['GET', '/', 0, 'stream']]);
  t.frame(frame({ payload: hex('82'), truncated: true, streamId: 3 }));
  assert.equal(t.desyncs, 1);
  t.frame(frame({ payload: hex('82 84'), streamId: 5 }));
  t.frame(frame({ received: false, payload: hex('88'), frameFlags: 0x5, streamId: 5 }));
  assert.equal(out.length, 1, 'nothing decoded from a direction whose state is lost');
});

test('query strings never reach an exchange', () => {
  assert.equal(stripQuery('/search?q=secret'), '/search');
  assert.equal(stripQuery('/a#frag'), '/a');
  assert.equal(stripQuery('/plain'), '/plain');
});
