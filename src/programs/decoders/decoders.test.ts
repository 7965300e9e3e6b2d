import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createDecoder, LabelDecoder, type DecoderEnv } from './index.js';
import { identityFromCgroupPath, PodIndex, podInfoFrom } from './kube.js';
import type { DecoderSpec } from '../schema.js';

const CID = 'a'.repeat(56) + '0123abcd';
const UID = '6f1c2a3b-1d2e-4f50-8a9b-0c1d2e3f4a5b';
const pods = new PodIndex();
pods.set(UID, { namespace: 'shop', name: 'cart-7d9f', containers: new Map([[CID, 'cart']]) });

/** Fixed answers, as the system would give them. */
const env: DecoderEnv = {
  cgroupPath: (id) => ({ 1: '/', 4242: `/kubepods/burstable/pod${UID}/${CID}`, 77: '/system.slice/sshd.service' } as Record<number, string>)[id],
  processComm: (pid) => (pid === 100 ? 'nginx' : undefined),
  processCgroup: (pid) => (pid === 100 ? `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID.replace(/-/g, '_')}.slice/cri-containerd-${CID}.scope` : undefined),
  ksym: (a) => (a === 0xffffffff816bb3c0n ? 'vfs_write' : a === 0xffffffff816bb3c8n ? 'vfs_write+0x8' : undefined),
  ifname: (i) => (i === 1 ? 'lo' : undefined),
  blockDevice: (major, minor) => (major === 7 && minor === 3 ? 'loop3' : undefined),
  pods,
};

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
}
function u64(n: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt.asUintN(64, n));
  return b;
}

/** Runs a chain over bytes, as a label of the whole buffer. */
function decode(chain: DecoderSpec[], bytes: Buffer): string | null {
  return new LabelDecoder('x', 0, bytes.length, chain.map((d) => createDecoder(d, env))).decode(bytes);
}

const cases: Array<[string, DecoderSpec[], Buffer, string | null]> = [
  // uint
  ['uint u8', [{ name: 'uint' }], Buffer.from([200]), '200'],
  ['uint u16 little-endian', [{ name: 'uint' }], Buffer.from([0x34, 0x12]), '4660'],
  ['uint u32', [{ name: 'uint' }], u32(4294967295), '4294967295'],
  ['uint u64 beyond 2^53', [{ name: 'uint' }], u64(2n ** 63n + 1n), '9223372036854775809'],
  ['uint big-endian', [{ name: 'uint', byte_order: 'big' }], Buffer.from([0x12, 0x34]), '4660'],
  ['uint 3 bytes', [{ name: 'uint' }], Buffer.from([1, 0, 1]), '65537'],
  ['no decoders = uint', [], u32(7), '7'],
  // hex
  ['hex bytes in memory order', [{ name: 'hex' }], Buffer.from([0xde, 0xad, 0xbe, 0xef]), 'deadbeef'],
  ['hex little-endian number', [{ name: 'hex', byte_order: 'little' }], u32(0xbeef), 'beef'],
  ['hex after uint', [{ name: 'uint' }, { name: 'hex' }], u32(255), 'ff'],
  // string
  ['string stops at NUL', [{ name: 'string' }], Buffer.from('bash\0\0garbage'), 'bash'],
  ['string fills the field', [{ name: 'string' }], Buffer.from('exactly16bytes!!'), 'exactly16bytes!!'],
  ['string utf-8', [{ name: 'string' }], Buffer.from('día\0'), 'día'],
  // inet_ip
  ['inet_ip v4', [{ name: 'inet_ip' }], Buffer.from([10, 0, 0, 1]), '10.0.0.1'],
  ['inet_ip v6', [{ name: 'inet_ip' }], Buffer.from('20010db8000000000000000000000001', 'hex'), '2001:db8::1'],
  ['inet_ip v6 loopback', [{ name: 'inet_ip' }], Buffer.from('00000000000000000000000000000001', 'hex'), '::1'],
  ['inet_ip v4-mapped v6', [{ name: 'inet_ip' }], Buffer.from('00000000000000000000ffff0a4d6402', 'hex'), '10.77.100.2'],
  ['inet_ip v6 no zero run', [{ name: 'inet_ip' }], Buffer.from('20010db8000100020003000400050006', 'hex'), '2001:db8:1:2:3:4:5:6'],
  // port
  ['port network order', [{ name: 'port' }], Buffer.from([0x1f, 0x90]), '8080'],
  ['port host order', [{ name: 'port', byte_order: 'little' }], Buffer.from([0x90, 0x1f]), '8080'],
  ['port after uint', [{ name: 'uint' }, { name: 'port' }], u32(443), '443'],
  // ip_protocol
  ['ip_protocol tcp', [{ name: 'ip_protocol' }], u32(6), 'tcp'],
  ['ip_protocol udp after uint', [{ name: 'uint' }, { name: 'ip_protocol' }], u32(17), 'udp'],
  ['ip_protocol icmp', [{ name: 'ip_protocol' }], Buffer.from([1]), 'icmp'],
  ['ip_protocol ipv6-icmp', [{ name: 'ip_protocol' }], u32(58), 'ipv6-icmp'],
  ['ip_protocol unknown stays a number', [{ name: 'ip_protocol' }], u32(253), '253'],
  // syscall (x86_64 numbering)
  ...(process.arch === 'x64'
    ? ([
        ['syscall write', [{ name: 'syscall' }], u32(1), 'write'],
        ['syscall after uint', [{ name: 'uint' }, { name: 'syscall' }], u64(59n), 'execve'],
        ['syscall unknown', [{ name: 'syscall' }], u32(9999), '9999'],
      ] as Array<[string, DecoderSpec[], Buffer, string | null]>)
    : []),
  // ksym
  ['ksym exact', [{ name: 'ksym' }], u64(0xffffffff816bb3c0n), 'vfs_write'],
  ['ksym inside a function', [{ name: 'ksym' }], u64(0xffffffff816bb3c8n), 'vfs_write+0x8'],
  ['ksym unknown stays hex', [{ name: 'ksym' }], u64(0x1234n), '0x1234'],
  // errno
  ['errno positive', [{ name: 'errno' }], u32(2), 'ENOENT'],
  ['errno negative u32', [{ name: 'errno' }], u32(-11), 'EAGAIN'],
  ['errno negative u64', [{ name: 'errno' }], u64(-111n), 'ECONNREFUSED'],
  ['errno after uint', [{ name: 'uint' }, { name: 'errno' }], u32(-13), 'EACCES'],
  ['errno kernel-internal', [{ name: 'errno' }], u32(-512), 'ERESTARTSYS'],
  ['errno zero', [{ name: 'errno' }], u32(0), '0'],
  // static_map
  ['static_map hit', [{ name: 'uint' }, { name: 'static_map', static_map: { 1: 'write', 0: 'read' } }], u32(1), 'write'],
  ['static_map miss drops the key', [{ name: 'uint' }, { name: 'static_map', static_map: { 1: 'write' } }], u32(5), null],
  ['static_map miss allowed', [{ name: 'uint' }, { name: 'static_map', static_map: { 1: 'write' }, allow_unknown: true }], u32(5), '5'],
  ['static_map on bytes', [{ name: 'static_map', static_map: { 2: 'flush' } }], u32(2), 'flush'],
  ['static_map after string', [{ name: 'string' }, { name: 'static_map', static_map: { sshd: 'ssh daemon' } }], Buffer.from('sshd\0\0\0\0'), 'ssh daemon'],
  // cgroup
  ['cgroup path', [{ name: 'cgroup' }], u64(77n), '/system.slice/sshd.service'],
  ['cgroup after uint', [{ name: 'uint' }, { name: 'cgroup' }], u64(77n), '/system.slice/sshd.service'],
  ['cgroup unknown id stays a number', [{ name: 'cgroup' }], u64(5n), '5'],
  ['cgroup container id', [{ name: 'cgroup', output: 'container_id' }], u64(4242n), CID],
  ['cgroup pod uid', [{ name: 'cgroup', output: 'pod_uid' }], u64(4242n), UID],
  ['cgroup pod name', [{ name: 'cgroup', output: 'pod' }], u64(4242n), 'cart-7d9f'],
  ['cgroup namespace', [{ name: 'cgroup', output: 'namespace' }], u64(4242n), 'shop'],
  ['cgroup container name', [{ name: 'cgroup', output: 'container' }], u64(4242n), 'cart'],
  ['cgroup outside containers', [{ name: 'cgroup', output: 'container_id' }], u64(77n), ''],
  // pid
  ['pid comm', [{ name: 'pid' }], u32(100), 'nginx'],
  ['pid gone', [{ name: 'pid' }], u32(101), ''],
  ['pid container id (systemd cgroup driver)', [{ name: 'pid', output: 'container_id' }], u32(100), CID],
  ['pid pod uid', [{ name: 'pid', output: 'pod_uid' }], u32(100), UID],
  ['pid namespace', [{ name: 'pid', output: 'namespace' }], u32(100), 'shop'],
  // majorminor, ifname, regexp
  ['majorminor known', [{ name: 'majorminor' }], u32((7 << 20) | 3), 'loop3'],
  ['majorminor unknown', [{ name: 'majorminor' }], u32((8 << 20) | 16), '8:16'],
  ['ifname', [{ name: 'ifname' }], u32(1), 'lo'],
  ['regexp match keeps', [{ name: 'string' }, { name: 'regexp', regexps: ['^ng', '^ap'] }], Buffer.from('nginx\0'), 'nginx'],
  ['regexp no match drops', [{ name: 'string' }, { name: 'regexp', regexps: ['^ng'] }], Buffer.from('sshd\0'), null],
];

for (const [name, chain, bytes, want] of cases) {
  test(`decoder ${name}`, () => {
    assert.equal(decode(chain, bytes), want);
  });
}

test('labels read their own slice of the key', () => {
  const key = Buffer.concat([u32(6), Buffer.from([0x01, 0xbb]), Buffer.from([0, 0])]);
  const proto = new LabelDecoder('proto', 0, 4, [createDecoder({ name: 'ip_protocol' }, env)]);
  const port = new LabelDecoder('port', 4, 2, [createDecoder({ name: 'port' }, env)]);
  assert.equal(proto.decode(key), 'tcp');
  assert.equal(port.decode(key), '443');
  assert.equal(proto.static, true);
  assert.equal(new LabelDecoder('p', 0, 4, [createDecoder({ name: 'pid' }, env)]).static, false);
});

test('container and pod identity from the cgroup layouts of runtimes', () => {
  const cases: Array<[string, string, string]> = [
    [`/kubepods/besteffort/pod${UID}/${CID}`, CID, UID],
    [`/kubepods.slice/kubepods-pod${UID.replace(/-/g, '_')}.slice/crio-${CID}.scope`, CID, UID],
    [`/libpod_parent/libpod-${CID}`, CID, ''],
    [`/system.slice/docker-${CID}.scope`, CID, ''],
    ['/user.slice/user-1000.slice/session-3.scope', '', ''],
    ['/', '', ''],
  ];
  for (const [path, cid, uid] of cases) assert.deepEqual(identityFromCgroupPath(path), { containerId: cid, podUid: uid }, path);
});

test('pods from Kubernetes objects index containers by runtime id', () => {
  const p = podInfoFrom({
    metadata: { uid: UID, name: 'web-0', namespace: 'prod' },
    status: { containerStatuses: [{ name: 'web', containerID: `containerd://${CID}` }] },
  });
  assert.ok(p);
  const idx = new PodIndex();
  idx.set(p.uid, p.info);
  assert.equal(idx.podOf({ containerId: CID, podUid: '' })?.name, 'web-0');
  assert.equal(idx.podOf({ containerId: '', podUid: UID })?.namespace, 'prod');
  idx.delete(UID);
  assert.equal(idx.podOf({ containerId: CID, podUid: '' }), undefined);
});
