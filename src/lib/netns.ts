// Network namespaces by inode: this process's, and a path that enters another one.
import { readdirSync, readlinkSync, statSync } from 'node:fs';

/** The inode of this process's network namespace (0 when unreadable). */
export function ownNetns(): number {
  try {
    return Number(/\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/net'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** A path that enters network namespace `netns`: a live process's, else a named one in /run/netns. */
export function netnsPath(netns: number, pids: number[]): string | undefined {
  for (const pid of pids) {
    if (pid <= 0) continue;
    try {
      if (statSync(`/proc/${pid}/ns/net`).ino === netns) return `/proc/${pid}/ns/net`;
    } catch {
      // exited
    }
  }
  try {
    for (const name of readdirSync('/run/netns')) {
      try {
        if (statSync(`/run/netns/${name}`).ino === netns) return `/run/netns/${name}`;
      } catch {
        // removed meanwhile
      }
    }
  } catch {
    // no named namespaces
  }
  return undefined;
}

/** A command line that runs `cmd` inside the network namespace at `netnsPath` (nsenter), or as is. */
export function commandIn(netnsPath: string | undefined, cmd: string, args: string[]): [string, string[]] {
  return netnsPath === undefined ? [cmd, args] : ['nsenter', [`--net=${netnsPath}`, '--', cmd, ...args]];
}
