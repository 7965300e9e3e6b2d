// What /proc says about processes and their sockets: owners of socket inodes, listening sockets per
// network namespace. Used for what existed before the agent started and for sockets whose owner the
// kernel side could not name.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

export interface ProcessInfo {
  pid: number;
  comm: string;
}

export function readComm(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

function pids(): number[] {
  return readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .map(Number);
}

const SOCKET_LINK = /^socket:\[(\d+)\]$/;

/** Socket inode → owning process, from every process's fd table. */
export function scanSocketOwners(): Map<number, ProcessInfo> {
  const owners = new Map<number, ProcessInfo>();
  for (const pid of pids()) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    let comm: string | undefined;
    for (const fd of fds) {
      let link: string;
      try {
        link = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const m = SOCKET_LINK.exec(link);
      if (!m) continue;
      const ino = Number(m[1]);
      if (owners.has(ino)) continue;
      comm ??= readComm(pid) ?? '';
      owners.set(ino, { pid, comm });
    }
  }
  return owners;
}

export interface ListeningSocket {
  netns: number;
  port: number;
  inode: number;
}

function netnsOf(pid: number): number | undefined {
  try {
    const m = /net:\[(\d+)\]/.exec(readlinkSync(`/proc/${pid}/ns/net`));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Parses /proc/net/tcp or tcp6 for sockets in state LISTEN (0A). */
export function parseListeners(text: string): Array<{ port: number; inode: number }> {
  const out: Array<{ port: number; inode: number }> = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || f[3] !== '0A') continue;
    const port = parseInt(f[1]!.split(':')[1]!, 16);
    out.push({ port, inode: Number(f[9]) });
  }
  return out;
}

/** Listening TCP sockets of every network namespace that has a process in it. */
export function scanListeners(): ListeningSocket[] {
  const seen = new Set<number>();
  const out: ListeningSocket[] = [];
  for (const pid of pids()) {
    const netns = netnsOf(pid);
    if (netns === undefined || seen.has(netns)) continue;
    seen.add(netns);
    for (const file of ['tcp', 'tcp6']) {
      let text: string;
      try {
        text = readFileSync(`/proc/${pid}/net/${file}`, 'utf8');
      } catch {
        continue;
      }
      for (const l of parseListeners(text)) out.push({ netns, ...l });
    }
  }
  return out;
}

/** The cgroup v2 path of a process (relative to the hierarchy root), from /proc/<pid>/cgroup. */
export function cgroupV2PathOf(pid: number): string | undefined {
  try {
    const line = readFileSync(`/proc/${pid}/cgroup`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('0::'));
    return line?.slice(3);
  } catch {
    return undefined;
  }
}
