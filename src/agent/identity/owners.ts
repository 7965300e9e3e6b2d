// Names owners of connections for edge labels: process name and cgroup path, with bounded caches.
import type { CgroupPaths } from '../../lib/cgroups.js';
import { readComm, scanSocketOwners, type ProcessInfo } from './procfs.js';

/** Process names and cgroup paths (what the TCP tracker's OwnerResolver needs, without workloads). */
export class Owners {
  private readonly commByPid = new Map<number, string>();
  private socketOwners = new Map<number, ProcessInfo>();
  private lastSocketScanMs = 0;

  constructor(
    private readonly cgroups: CgroupPaths,
    private readonly socketScanIntervalMs = 5000,
    private readonly maxPids = 65536,
  ) {}

  process(pid: number, comm: string, socketInode: number): string {
    if (comm) return comm;
    if (pid) {
      let c = this.commByPid.get(pid);
      if (c === undefined) {
        c = readComm(pid) ?? '';
        if (this.commByPid.size >= this.maxPids) this.commByPid.clear();
        this.commByPid.set(pid, c);
      }
      return c;
    }
    if (socketInode) return this.socketOwner(socketInode)?.comm ?? '';
    return '';
  }

  /** The process holding a socket inode (from /proc fd tables, rescanned at most every few seconds). */
  socketOwner(ino: number): ProcessInfo | undefined {
    let owner = this.socketOwners.get(ino);
    if (!owner && Date.now() - this.lastSocketScanMs >= this.socketScanIntervalMs) {
      this.lastSocketScanMs = Date.now();
      this.socketOwners = scanSocketOwners();
      owner = this.socketOwners.get(ino);
    }
    return owner;
  }

  cgroup(id: number): string {
    return this.cgroups.name(id);
  }
}
