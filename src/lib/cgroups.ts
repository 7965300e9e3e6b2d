// cgroup v2 ids (the inode of the cgroup's directory) to paths relative to the hierarchy's root.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export class CgroupPaths {
  private readonly byId = new Map<number, string>();
  private lastScanMs = 0;

  constructor(
    private readonly root: string,
    /** Minimum time between two walks of the hierarchy triggered by unknown ids. */
    private readonly rescanMs = 2000,
    private readonly maxEntries = 100_000,
  ) {}

  private scan(): void {
    this.lastScanMs = Date.now();
    this.byId.clear();
    const walk = (dir: string, rel: string): void => {
      if (this.byId.size >= this.maxEntries) return;
      let ino: number;
      try {
        ino = statSync(dir).ino;
      } catch {
        return;
      }
      this.byId.set(ino, rel || '/');
      let entries;
      try {
        entries = readdirSync(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of entries) if (e.isDirectory()) walk(join(dir, e.name), `${rel}/${e.name}`);
    };
    walk(this.root, '');
  }

  /** The cgroup's path ("/" for the root, "" for id 0), or the id as text when it cannot be found. */
  name(id: number): string {
    if (id === 0) return '';
    let p = this.byId.get(id);
    if (p === undefined && Date.now() - this.lastScanMs >= this.rescanMs) {
      this.scan();
      p = this.byId.get(id);
    }
    return p ?? String(id);
  }

  /** The id of a cgroup path relative to the root (for tests and bootstrap). */
  idOf(rel: string): number {
    return statSync(join(this.root, rel)).ino;
  }
}
