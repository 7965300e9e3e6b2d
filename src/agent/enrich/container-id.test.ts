import { test } from 'node:test';
import assert from 'node:assert/strict';
import { containerFromCgroup } from './container-id.js';

const ID = 'a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90';
const UID = '0f8e2c1a-3b4d-4e5f-8a9b-0c1d2e3f4a5b';
const UIDU = UID.replace(/-/g, '_');

// Path shapes as the runtimes write them (from /proc/<pid>/cgroup on real nodes).
const cases: Array<[string, string, ReturnType<typeof containerFromCgroup>]> = [
  ['Docker, cgroupfs driver (v1 and v2)', `/docker/${ID}`, { runtime: 'docker', id: ID }],
  ['Docker, systemd driver', `/system.slice/docker-${ID}.scope`, { runtime: 'docker', id: ID }],
  ['Docker under kubepods (dockershim), systemd', `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UIDU}.slice/docker-${ID}.scope`, { runtime: 'docker', id: ID, podUid: UID, qos: 'besteffort' }],
  ['containerd, kubepods systemd driver (burstable)', `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UIDU}.slice/cri-containerd-${ID}.scope`, { runtime: 'containerd', id: ID, podUid: UID, qos: 'burstable' }],
  ['containerd, kubepods systemd driver (guaranteed)', `/kubepods.slice/kubepods-pod${UIDU}.slice/cri-containerd-${ID}.scope`, { runtime: 'containerd', id: ID, podUid: UID, qos: 'guaranteed' }],
  ['containerd, kubepods cgroupfs driver (besteffort)', `/kubepods/besteffort/pod${UID}/${ID}`, { runtime: 'containerd', id: ID, podUid: UID, qos: 'besteffort' }],
  ['containerd, kubepods cgroupfs driver (guaranteed)', `/kubepods/pod${UID}/${ID}`, { runtime: 'containerd', id: ID, podUid: UID, qos: 'guaranteed' }],
  ['CRI-O, systemd driver', `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UIDU}.slice/crio-${ID}.scope`, { runtime: 'cri-o', id: ID, podUid: UID, qos: 'burstable' }],
  ['CRI-O, cgroupfs driver', `/kubepods/burstable/pod${UID}/crio-${ID}`, { runtime: 'cri-o', id: ID, podUid: UID, qos: 'burstable' }],
  ['Podman, cgroupfs manager', `/libpod_parent/libpod-${ID}`, { runtime: 'podman', id: ID }],
  ['Podman, systemd manager', `/machine.slice/libpod-${ID}.scope`, { runtime: 'podman', id: ID }],
  ['Podman with a nested container cgroup', `/machine.slice/libpod-${ID}.scope/container`, { runtime: 'podman', id: ID }],
  ['Podman rootless', `/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-${ID}.scope`, { runtime: 'podman', id: ID }],
  ['cgroup v1 line from /proc/<pid>/cgroup (path part)', `/kubepods/burstable/pod${UID}/${ID}`, { runtime: 'containerd', id: ID, podUid: UID, qos: 'burstable' }],
  ['containerd CRI, sandbox without a cgroup parent (measured: containerd 1.6, cgroupfs)', `/k8s.io/${ID}`, { runtime: 'containerd', id: ID }],
  ['a bare cgroup v2 directory named by id (no runtime)', `/fs-test/${ID}`, { runtime: 'cgroup', id: ID }],
];

for (const [name, path, want] of cases) {
  test(`container from cgroup path: ${name}`, () => assert.deepEqual(containerFromCgroup(path), want));
}

test('not containers: host services, the root, conmon, pod sandboxes without a container', () => {
  for (const p of ['/', '/system.slice/sshd.service', '/user.slice/user-0.slice/session-1.scope', `/machine.slice/libpod-conmon-${ID}.scope`, `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UIDU}.slice/crio-conmon-${ID}.scope`, `/kubepods/burstable/pod${UID}`]) {
    assert.equal(containerFromCgroup(p), undefined, p);
  }
});
