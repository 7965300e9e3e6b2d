// HTTP/2 and gRPC: @grpc/grpc-js server and client in their own processes, over cleartext HTTP/2 and
// over TLS (Node.js's static OpenSSL). Calls by service, method and code equal the client's own,
// including the NOT_FOUND and INTERNAL answers made on purpose.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startL7, startPeer, runPeer, makeCert, type RunningL7 } from './support.js';

let l7: RunningL7;
let certDir: string;

before(() => {
  certDir = mkdtempSync(join(tmpdir(), 'fs-l7-grpc-'));
  l7 = startL7();
});
after(() => {
  l7?.stop();
  rmSync(certDir, { recursive: true, force: true });
});

const N = 12;

for (const tls of [false, true]) {
  test(`gRPC over ${tls ? 'TLS' : 'cleartext HTTP/2'}: calls by service, method and code, both roles; durations recorded`, async () => {
    const { cert, key } = makeCert(certDir);
    const server = await startPeer('grpc-server', tls ? [cert, key] : []);
    try {
      const got = await runPeer<Record<string, number[]>>('grpc-client', [String(server.port), String(N), ...(tls ? [cert] : [])]);
      assert.deepEqual(got, { ok: Array(N).fill(0), missing: Array(N).fill(5), fail: Array(N).fill(13) }, 'the client saw OK, NOT_FOUND and INTERNAL');
      const port = String(server.port);
      const m = await l7.waitFor((m) => m.sum('flowscope_grpc_requests_total', { port, role: 'server' }) >= 3 * N && m.sum('flowscope_grpc_requests_total', { port, role: 'client' }) >= 3 * N, 5000, `${3 * N} calls, both roles`);
      for (const role of ['server', 'client']) {
        const c = { port, role, tls: String(tls), service: 'helloworld.Greeter', method: 'SayHello' };
        assert.equal(m.sum('flowscope_grpc_requests_total', { ...c, code: 'OK' }), N, role);
        assert.equal(m.sum('flowscope_grpc_requests_total', { ...c, code: 'NOT_FOUND' }), N, role);
        assert.equal(m.sum('flowscope_grpc_requests_total', { ...c, code: 'INTERNAL' }), N, role);
        assert.equal(m.sum('flowscope_grpc_requests_total', { port, role }), 3 * N, `${role}: nothing else`);
        assert.equal(m.sum('flowscope_grpc_request_duration_seconds_count', { port, role }), 3 * N);
        const p99 = m.quantile(0.99, 'flowscope_grpc_request_duration_seconds', { port, role });
        assert.ok(p99 > 0 && p99 < 1, `${role} p99 ${p99} s on loopback`);
      }
      assert.equal(m.sum('flowscope_http_requests_total', { port }), 0, 'gRPC calls are not also counted as HTTP requests');
      const lost = m.sum('flowscope_agent_l7_lost_total', { reason: 'h2_header_state_lost' });
      assert.equal(lost, 0, 'HPACK state kept in step on every connection');
    } finally {
      await server.stop();
    }
  });
}
