import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findCgroup2Mount, effectiveCapabilities, hasCapability, canUseBpf, Cap, kernelVersion, parseCpuList } from './features.js';

const HYBRID = `25 30 0:23 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
33 25 0:28 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
34 33 0:29 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate
35 33 0:30 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,xattr,name=systemd`;
const UNIFIED = `30 25 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot`;
const V1_ONLY = `35 33 0:30 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory`;

test('finds cgroup v2 on hybrid and unified hosts, and reports its absence', () => {
  assert.equal(findCgroup2Mount(HYBRID), '/sys/fs/cgroup/unified');
  assert.equal(findCgroup2Mount(UNIFIED), '/sys/fs/cgroup');
  assert.equal(findCgroup2Mount(V1_ONLY), undefined);
  assert.equal(findCgroup2Mount(`40 1 0:50 / /run/my\\040cg rw - cgroup2 none rw`), '/run/my cg');
});

test('reads effective capabilities from /proc/self/status', () => {
  const root = effectiveCapabilities('Name:\tnode\nCapEff:\t000001ffffffffff\n');
  assert.ok(canUseBpf(root));
  assert.ok(hasCapability(Cap.NET_ADMIN, root));
  const bpfOnly = effectiveCapabilities(`CapEff:\t${((1n << 39n) | (1n << 38n)).toString(16).padStart(16, '0')}\n`);
  assert.ok(canUseBpf(bpfOnly), 'CAP_BPF + CAP_PERFMON suffice');
  assert.ok(!hasCapability(Cap.NET_ADMIN, bpfOnly));
  assert.ok(!canUseBpf(effectiveCapabilities('CapEff:\t0000000000000000\n')));
});

test('parses kernel versions', () => {
  assert.deepEqual(kernelVersion('6.18.44-fc-v669'), [6, 18]);
  assert.deepEqual(kernelVersion('5.4.0-150-generic'), [5, 4]);
  assert.deepEqual(kernelVersion('weird'), [0, 0]);
});

test('parses kernel CPU lists', () => {
  assert.deepEqual(parseCpuList('0-1\n'), [0, 1]);
  assert.deepEqual(parseCpuList('0,2-4,7'), [0, 2, 3, 4, 7]);
  assert.deepEqual(parseCpuList('5'), [5]);
  assert.throws(() => parseCpuList('0-x'), /not a CPU list: '0-x'/);
});
