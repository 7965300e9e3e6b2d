// NAT: where a connection to a translated address (a service VIP, any DNAT) actually landed, from
// the kernel's connection tracking table (conntrack(8) over netlink). Lookups are batched: once per
// interval, one dump of destination-NATed TCP entries per network namespace that has pending lookups.
import { execFile } from 'node:child_process';
import { netnsPath, ownNetns } from '../../lib/netns.js';

export { netnsPath };

export interface NatTuple {
  src: string;
  sport: number;
  dst: string;
  dport: number;
}

export interface NatEntry {
  orig: NatTuple;
  reply: NatTuple;
}

/** Parses `conntrack -L` lines: the original direction's tuple, then the reply's. */
export function parseConntrack(text: string): NatEntry[] {
  const out: NatEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line.includes('src=')) continue;
    const src = [...line.matchAll(/\bsrc=(\S+)/g)].map((m) => m[1]!);
    const dst = [...line.matchAll(/\bdst=(\S+)/g)].map((m) => m[1]!);
    const sport = [...line.matchAll(/\bsport=(\d+)/g)].map((m) => Number(m[1]));
    const dport = [...line.matchAll(/\bdport=(\d+)/g)].map((m) => Number(m[1]));
    if (src.length < 2 || dst.length < 2 || sport.length < 2 || dport.length < 2) continue;
    out.push({ orig: { src: src[0]!, dst: dst[0]!, sport: sport[0]!, dport: dport[0]! }, reply: { src: src[1]!, dst: dst[1]!, sport: sport[1]!, dport: dport[1]! } });
  }
  return out;
}

export const tupleKey = (t: NatTuple): string => `${t.src}|${t.sport}|${t.dst}|${t.dport}`;

export interface PendingNat<T> {
  tuple: NatTuple;
  /** A process in the connection's network namespace (to enter it), 0 for the agent's own. */
  pid: number;
  netns: number;
  ctx: T;
}

export interface NatStatus {
  state: 'ok' | 'unavailable' | 'error';
  reason?: string;
  lookups: number;
  translated: number;
  dropped: number;
  /** Lookups skipped: the connection's network namespace was gone (no process, not named). */
  unreachableNetns?: number;
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: 5000, maxBuffer: 256 * 1024 * 1024 }, (err, stdout, stderr) => {
      // conntrack exits 0 with "0 flow entries" on stderr; a failure says why on stderr.
      if (err) reject(new Error((stderr || err.message).trim().split('\n')[0]));
      else resolve(stdout);
    });
  });
}

/** The reply comes from where a connection landed: the tuple it actually went to. */
function actualOf(e: NatEntry): NatTuple {
  return { src: e.reply.dst, sport: e.reply.dport, dst: e.reply.src, dport: e.reply.sport };
}

/**
 * An edge found translated: its connections (same source address, dialled address and port) are
 * counted from each dump of the conntrack table, so that one lookup per edge (the kernel counts
 * connections per edge; only an edge's first connection reaches the agent) still counts every
 * connection where it landed.
 */
interface Watch<T> {
  netns: number;
  pids: number[];
  src: string;
  dst: string;
  dport: number;
  ctx: T;
  /** conntrack entries (original tuples) already counted and still in the table. */
  seen: Set<string>;
  dueMs: number;
  lastNewMs: number;
}

const watchKey = (netns: number, src: string, dst: string, dport: number): string => `${netns}|${src}|${dst}|${dport}`;

/** Counts, for a watch, the entries of a dump it has not counted yet; returns them and what is seen now. */
export function newEntries(entries: readonly NatEntry[], w: { src: string; dst: string; dport: number; seen: ReadonlySet<string> }): { fresh: NatEntry[]; seen: Set<string> } {
  const fresh: NatEntry[] = [];
  const seen = new Set<string>();
  for (const e of entries) {
    if (e.orig.src !== w.src || e.orig.dst !== w.dst || e.orig.dport !== w.dport) continue;
    const k = tupleKey(e.orig);
    seen.add(k);
    if (!w.seen.has(k)) fresh.push(e);
  }
  return { fresh, seen };
}

/** How often a watched edge's namespace is dumped again, and when an edge without new connections stops being watched. */
const WATCH_PERIOD_MS = 2000;
const WATCH_IDLE_MS = 5 * 60_000;
const MAX_WATCHES = 4096;

export class NatResolver<T> {
  private pending: Array<PendingNat<T>> = [];
  private readonly watches = new Map<string, Watch<T>>();
  private running = false;
  private readonly self = ownNetns();
  readonly status: NatStatus = { state: 'ok', lookups: 0, translated: 0, dropped: 0 };

  constructor(
    private readonly onTranslated: (ctx: T, actual: NatTuple, orig: NatTuple) => void,
    private readonly maxPending = 8192,
    private readonly conntrackBin = 'conntrack',
  ) {}

  /** Looks a connection up once; with `watch`, its later connections are counted too once it proved translated. */
  queue(p: PendingNat<T> & { watch?: boolean }): void {
    if (this.status.state === 'unavailable') return;
    if (this.pending.length >= this.maxPending) {
      this.status.dropped++;
      return;
    }
    this.pending.push(p);
  }

  private translated(ctx: T, e: NatEntry): boolean {
    const actual = actualOf(e);
    if (actual.dst === e.orig.dst && actual.dport === e.orig.dport) return false;
    this.status.translated++;
    this.onTranslated(ctx, actual, e.orig);
    return true;
  }

  /** Resolves what is pending and counts watched edges' new connections (once per interval; overlapping calls wait). */
  async flush(nowMs = Date.now()): Promise<void> {
    if (this.running) return;
    const due = [...this.watches.values()].filter((w) => w.dueMs <= nowMs);
    if (this.pending.length === 0 && due.length === 0) return;
    this.running = true;
    const batch = this.pending as Array<PendingNat<T> & { watch?: boolean }>;
    this.pending = [];
    try {
      const byNetns = new Map<number, { pending: Array<PendingNat<T> & { watch?: boolean }>; pids: Set<number> }>();
      const of = (ns: number) => {
        let l = byNetns.get(ns);
        if (!l) byNetns.set(ns, (l = { pending: [], pids: new Set() }));
        return l;
      };
      for (const p of batch) {
        const l = of(p.netns || this.self);
        l.pending.push(p);
        l.pids.add(p.pid);
      }
      for (const w of due) for (const pid of w.pids) of(w.netns).pids.add(pid);
      for (const [ns, list] of byNetns) {
        const args = ['-L', '-p', 'tcp', '--dst-nat'];
        let text: string;
        try {
          if (ns === this.self) text = await run(this.conntrackBin, args);
          else {
            const path = netnsPath(ns, [...list.pids].slice(0, 8));
            if (!path) {
              this.status.unreachableNetns = (this.status.unreachableNetns ?? 0) + list.pending.length;
              for (const [k, w] of this.watches) if (w.netns === ns) this.watches.delete(k);
              continue;
            }
            text = await run('nsenter', [`--net=${path}`, this.conntrackBin, ...args]);
          }
        } catch (err) {
          const msg = (err as Error).message;
          this.status.state = /ENOENT|not found/.test(msg) ? 'unavailable' : 'error';
          this.status.reason = /ENOENT/.test(msg) ? 'conntrack(8) is not installed: install the conntrack package' : msg;
          continue;
        }
        if (this.status.state === 'error') {
          this.status.state = 'ok';
          delete this.status.reason;
        }
        this.status.lookups += list.pending.length;
        const all = parseConntrack(text);
        const entries = new Map<string, NatEntry>();
        for (const e of all) entries.set(tupleKey(e.orig), e);
        for (const p of list.pending) {
          const e = entries.get(tupleKey(p.tuple));
          if (!e || !this.translated(p.ctx, e)) continue;
          const k = watchKey(ns, p.tuple.src, p.tuple.dst, p.tuple.dport);
          if (p.watch && !this.watches.has(k) && this.watches.size < MAX_WATCHES) {
            this.watches.set(k, { netns: ns, pids: [p.pid], src: p.tuple.src, dst: p.tuple.dst, dport: p.tuple.dport, ctx: p.ctx, seen: new Set([tupleKey(p.tuple)]), dueMs: 0, lastNewMs: nowMs });
          }
        }
        for (const [k, w] of this.watches) {
          if (w.netns !== ns) continue;
          const { fresh, seen } = newEntries(all, w);
          for (const e of fresh) this.translated(w.ctx, e);
          w.seen = seen;
          w.dueMs = nowMs + WATCH_PERIOD_MS;
          if (fresh.length) w.lastNewMs = nowMs;
          else if (nowMs - w.lastNewMs > WATCH_IDLE_MS) this.watches.delete(k);
        }
      }
    } finally {
      this.running = false;
    }
  }
}
