// Process identity from /proc: executable, start time, host and in-container pid, and the command
// line only when asked for (--process-args), redacted. By default a process is named by its executable
// and none of its arguments leaves the agent. Cached per (pid, start time) so a recycled pid is never mistaken for its predecessor;
// entries of exited processes are dropped by a periodic sweep, and the cache is bounded.
import { readFileSync, readlinkSync } from 'node:fs';
import { redactCmdline } from './redact.js';

export interface ProcessIdentity {
  /** Host pid (the kernel's tgid). */
  pid: number;
  /** Pid inside the process's own pid namespace (equal to `pid` outside containers). */
  nsPid: number;
  exe: string;
  /** Command line with secrets redacted (never the raw one); only with --process-args. */
  cmdline?: string;
  comm: string;
  /** Start time, ISO 8601 (from the boot time and the process's start in clock ticks). */
  startedAt: string;
  /** Start time in clock ticks since boot: with the pid, the process's unique key. */
  startTicks: number;
  /** exe (and the command line when read): what tells processes apart on an edge. */
  key: string;
}

const CLK_TCK = 100; // USER_HZ: 100 on every Linux architecture the agent runs on

let bootTimeMs: number | undefined;
function bootTime(procRoot: string): number {
  if (bootTimeMs === undefined) {
    const m = /^btime (\d+)$/m.exec(readFileSync(`${procRoot}/stat`, 'utf8'));
    bootTimeMs = m ? Number(m[1]) * 1000 : 0;
  }
  return bootTimeMs;
}

/** Fields of /proc/<pid>/stat after the command name (which may contain spaces and parentheses). */
export function parseStat(text: string): { comm: string; startTicks: number } | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const rest = text.slice(close + 2).split(' ');
  // rest[0] is field 3 (state); starttime is field 22.
  const startTicks = Number(rest[19]);
  if (!Number.isFinite(startTicks)) return undefined;
  return { comm: text.slice(open + 1, close), startTicks };
}

/** The innermost pid of NSpid in /proc/<pid>/status. */
export function parseNsPid(status: string, fallback: number): number {
  const m = /^NSpid:\s+([\d\s]+)$/m.exec(status);
  if (!m) return fallback;
  const pids = m[1]!.trim().split(/\s+/);
  return Number(pids[pids.length - 1]);
}

export function startTicksOf(pid: number, procRoot = '/proc'): number | undefined {
  try {
    return parseStat(readFileSync(`${procRoot}/${pid}/stat`, 'utf8'))?.startTicks;
  } catch {
    return undefined;
  }
}

/** Whether a process's arguments are read (redacted) or left in the kernel. */
export type ProcessArgs = 'none' | 'redacted';

export function readProcess(pid: number, procRoot = '/proc', args: ProcessArgs = 'none'): ProcessIdentity | undefined {
  let stat;
  try {
    stat = parseStat(readFileSync(`${procRoot}/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
  if (!stat) return undefined;
  let exe = '';
  try {
    exe = readlinkSync(`${procRoot}/${pid}/exe`);
  } catch {
    // kernel threads, or the process exited meanwhile
  }
  let cmdline: string | undefined;
  if (args === 'redacted') {
    try {
      cmdline = redactCmdline(readFileSync(`${procRoot}/${pid}/cmdline`, 'latin1'));
    } catch {
      // exited meanwhile
    }
  }
  let nsPid = pid;
  try {
    nsPid = parseNsPid(readFileSync(`${procRoot}/${pid}/status`, 'utf8'), pid);
  } catch {
    // exited meanwhile
  }
  return {
    pid,
    nsPid,
    exe,
    ...(cmdline !== undefined ? { cmdline } : {}),
    key: cmdline !== undefined ? `${exe}\u0000${cmdline}` : exe,
    comm: stat.comm,
    startTicks: stat.startTicks,
    startedAt: new Date(bootTime(procRoot) + (stat.startTicks * 1000) / CLK_TCK).toISOString(),
  };
}

export interface ProcessCacheStats {
  entries: number;
  hits: number;
  misses: number;
  evictedExited: number;
  evictedFull: number;
}

export class ProcessCache {
  private readonly byPid = new Map<number, ProcessIdentity>();
  readonly stats: ProcessCacheStats = { entries: 0, hits: 0, misses: 0, evictedExited: 0, evictedFull: 0 };

  constructor(
    private readonly maxEntries = 16384,
    private readonly procRoot = '/proc',
    private readonly args: ProcessArgs = 'none',
  ) {}

  get size(): number {
    return this.byPid.size;
  }

  /** The process with this host pid; read from /proc the first time (undefined if it is gone). */
  get(pid: number): ProcessIdentity | undefined {
    if (pid <= 0) return undefined;
    const cached = this.byPid.get(pid);
    if (cached) {
      this.stats.hits++;
      return cached;
    }
    this.stats.misses++;
    const p = readProcess(pid, this.procRoot, this.args);
    if (!p) return undefined;
    if (this.byPid.size >= this.maxEntries) {
      // Oldest first (Map keeps insertion order).
      const first = this.byPid.keys().next();
      if (!first.done) this.byPid.delete(first.value);
      this.stats.evictedFull++;
    }
    this.byPid.set(pid, p);
    this.stats.entries = this.byPid.size;
    return p;
  }

  /** Drops processes that exited (or whose pid now belongs to another process). */
  sweep(): number {
    let n = 0;
    for (const [pid, p] of this.byPid) {
      if (startTicksOf(pid, this.procRoot) !== p.startTicks) {
        this.byPid.delete(pid);
        n++;
      }
    }
    this.stats.evictedExited += n;
    this.stats.entries = this.byPid.size;
    return n;
  }
}
