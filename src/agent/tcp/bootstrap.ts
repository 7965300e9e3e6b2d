// Listening sockets that existed before the agent: their owners, so that connections they accept
// are attributed even before accept() names the process (or when accept hooks are unavailable).
import { scanListeners, scanSocketOwners, cgroupV2PathOf } from '../identity/procfs.js';
import type { CgroupPaths } from '../../lib/cgroups.js';
import type { TcpTracer } from './tracer.js';

export function bootstrapListeners(tracer: TcpTracer, cgroups: CgroupPaths): number {
  const owners = scanSocketOwners();
  let n = 0;
  for (const l of scanListeners()) {
    const owner = owners.get(l.inode);
    if (!owner) continue;
    let cgroupId = 0;
    const path = cgroupV2PathOf(owner.pid);
    if (path !== undefined) {
      try {
        cgroupId = cgroups.idOf(path);
      } catch {
        // the process or its cgroup went away meanwhile
      }
    }
    try {
      tracer.addListener({ netns: l.netns, port: l.port, pad: 0 }, { pid: owner.pid, comm: owner.comm.slice(0, 15), cgroup_id: cgroupId, pad: 0 });
      n++;
    } catch {
      // already recorded by the kernel side (EEXIST), or the map is full (counted there)
    }
  }
  return n;
}
