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

export class NatResolver<T> {
  private pending: Array<PendingNat<T>> = [];
  private running = false;
  private readonly self = ownNetns();
  readonly status: NatStatus = { state: 'ok', lookups: 0, translated: 0, dropped: 0 };

  constructor(
    private readonly onTranslated: (ctx: T, actual: NatTuple, orig: NatTuple) => void,
    private readonly maxPending = 8192,
    private readonly conntrackBin = 'conntrack',
  ) {}

  queue(p: PendingNat<T>): void {
    if (this.status.state === 'unavailable') return;
    if (this.pending.length >= this.maxPending) {
      this.status.dropped++;
      return;
    }
    this.pending.push(p);
  }

  /** Resolves what is pending (once per interval; overlapping calls wait for the next). */
  async flush(): Promise<void> {
    if (this.running || this.pending.length === 0) return;
    this.running = true;
    const batch = this.pending;
    this.pending = [];
    try {
      const byNetns = new Map<number, Array<PendingNat<T>>>();
      for (const p of batch) {
        const ns = p.netns || this.self;
        let l = byNetns.get(ns);
        if (!l) byNetns.set(ns, (l = []));
        l.push(p);
      }
      for (const [ns, list] of byNetns) {
        const args = ['-L', '-p', 'tcp', '--dst-nat'];
        let text: string;
        try {
          if (ns === this.self) text = await run(this.conntrackBin, args);
          else {
            const path = netnsPath(ns, [...new Set(list.map((p) => p.pid))].slice(0, 8));
            if (!path) {
              this.status.unreachableNetns = (this.status.unreachableNetns ?? 0) + list.length;
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
        this.status.lookups += list.length;
        const entries = new Map<string, NatEntry>();
        for (const e of parseConntrack(text)) entries.set(tupleKey(e.orig), e);
        for (const p of list) {
          const e = entries.get(tupleKey(p.tuple));
          if (!e) continue;
          // The reply comes from where the connection landed.
          const actual: NatTuple = { src: e.reply.dst, sport: e.reply.dport, dst: e.reply.src, dport: e.reply.sport };
          if (actual.dst === p.tuple.dst && actual.dport === p.tuple.dport) continue;
          this.status.translated++;
          this.onTranslated(p.ctx, actual, p.tuple);
        }
      }
    } finally {
      this.running = false;
    }
  }
}
