// Which interfaces carry the flow classifier: every interface of this network namespace that
// matches the filter, attached as soon as a netlink link event says it appeared, released when one
// says it went, and re-evaluated against the filter when it is renamed; a device deleted and
// created again under the same name has a new index and is attached anew. A link dump every minute
// and after every overrun (the kernel dropped events because our socket's buffer was full) repairs
// what events missed. The socket belongs to this process's network namespace, even where /sys
// belongs to another (as under `nsenter --net`), or to the namespace given (--netns: the socket
// is made there, and the programs attached there, by a thread of the addon that enters it). Where no netlink socket can be had, the fallback
// polls /proc/self/net/dev and `ip -j link` every interval (at most one interval late), and
// /capabilities says so.
import { execFileSync } from 'node:child_process';
import { commandIn } from '../../lib/netns.js';
import type { BpfObject, Link } from '../../bpf/index.js';
import type { InterfaceReport, OtherProgram } from '../../model/capabilities.js';

export type { InterfaceReport, OtherProgram } from '../../model/capabilities.js';
import { ARPHRD, arphrdName } from '../../bpf/netlink-messages.js';
import { LinkTable, type LinkState } from './link-events-table.js';
import { NetlinkLinkSource, PolledLinkSource, type LinkSource, type LinkSourceStatus } from './link-events-source.js';

const POLLING = 'polling /proc/self/net/dev and `ip -j link` every interval instead';
const POLLING_NETNS = 'polling `ip -j link` in that namespace (nsenter) every interval instead';
/**
 * Loopback is left out unless --flow-interfaces names it: its TCP is counted by the connection
 * hooks already, and the classifier on it would cost every local connection a dozen runs (see the
 * README and bench/RESULTS.md).
 */
const LOOPBACK_LEFT_OUT = "loopback: left out by default (its TCP is counted by the connection hooks); --flow-interfaces '.' includes it";

/** Link types whose packets start at an Ethernet header (Ethernet, veth, bridge, bond, loopback). */
const L2_TYPES = new Set<number>([ARPHRD.ETHER, ARPHRD.LOOPBACK]);
/** Raw IP devices: tun and wireguard (none), ipip (tunnel), ip6tnl (tunnel6), sit, gre, ip6gre. */
const L3_TYPES = new Set<number>([ARPHRD.NONE, ARPHRD.TUNNEL, ARPHRD.TUNNEL6, ARPHRD.SIT, ARPHRD.IPGRE, ARPHRD.IP6GRE]);

export interface AttachedInterface {
  name: string;
  ifindex: number;
  kind: 'l2' | 'l3';
  mode: 'tcx' | 'legacy';
  links: Link[];
  /** Legacy mode: our filters' priorities (ingress, egress). */
  priorities: number[];
  error?: string;
}

export interface InterfaceWatcherOptions {
  /** Only interfaces whose name matches (default: every interface but loopback). */
  include?: RegExp;
  /** The interfaces of this network namespace (e.g. /run/netns/NAME) instead of ours. */
  netns?: string;
  /** 'auto' (tcx where present), 'tcx' or 'legacy'. */
  tcMode: 'auto' | 'tcx' | 'legacy';
  /** A link dump this often even when link events say nothing (default 60 s). */
  resyncMs?: number;
  onAttach?: (i: AttachedInterface) => void;
  onDetach?: (i: AttachedInterface) => void;
}

/** How long the name of an interface that went stays known (its last flows and records still name it). */
const NAME_KEPT_MS = 10 * 60_000;

export class InterfaceWatcher {
  /** By ifindex. */
  private readonly attached = new Map<number, AttachedInterface>();
  /** Interfaces we could not attach to, by ifindex (retried when a device of that name comes back). */
  private readonly failed = new Map<number, { name: string; error: string }>();
  private readonly skipped = new Map<number, { name: string; why: string }>();
  /** Names of interfaces seen, by ifindex (flows outlive their interface: kept NAME_KEPT_MS after it goes). */
  readonly names = new Map<number, string>();
  private readonly goneAt = new Map<number, number>();
  private othersCache: { at: number; value: Map<string, OtherProgram[]> } | undefined;
  private readonly table = new LinkTable({ up: (l) => this.linkUp(l), down: (l) => this.linkDown(l) });
  private source: LinkSource | undefined;
  private closed = false;
  /** Overruns counted by a source given up since (the counter never goes back). */
  private pastOverruns = 0;
  /** Told when link events stop working and polling takes over (the agent logs it). */
  onWarning: ((message: string) => void) | undefined;

  constructor(
    private readonly obj: BpfObject,
    private readonly options: InterfaceWatcherOptions,
  ) {}

  get count(): number {
    return this.attached.size;
  }

  nameOf(ifindex: number): string {
    return this.names.get(ifindex) ?? `if${ifindex}`;
  }

  /**
   * The first call lists the interfaces and attaches (link events keep it current from then on);
   * every later call (each interval) lets the source resync or, when polling, poll.
   */
  scan(): void {
    if (this.closed) return;
    const now = Date.now();
    if (this.source) this.source.tick(now);
    else this.source = this.startSource();
    for (const [ifindex, at] of this.goneAt) {
      if (now - at < NAME_KEPT_MS) break; // in the order they went
      this.goneAt.delete(ifindex);
      this.names.delete(ifindex);
    }
  }

  /** Where the interfaces come from: netlink link events, or the polling fallback (and why). */
  linkEvents(): LinkSourceStatus | undefined {
    const s = this.source?.status();
    return s && { ...s, overruns: s.overruns + this.pastOverruns };
  }

  private get polling(): string {
    return this.options.netns === undefined ? POLLING : POLLING_NETNS;
  }

  private startSource(): LinkSource {
    try {
      return new NetlinkLinkSource(this.table, { resyncMs: this.options.resyncMs, netns: this.options.netns, onFailure: (why) => this.fallBack(why) });
    } catch (err) {
      return new PolledLinkSource(this.table, `netlink link events unavailable (${(err as Error).message.split('\n')[0]!}): ${this.polling}`, this.options.netns);
    }
  }

  private fallBack(why: string): void {
    if (this.closed) return;
    this.pastOverruns += this.source?.status().overruns ?? 0;
    const reason = `${why}: ${this.polling}`;
    this.source = new PolledLinkSource(this.table, reason, this.options.netns);
    this.onWarning?.(`flows: ${reason}`);
  }

  private linkUp(link: LinkState): void {
    const { ifindex, name } = link;
    this.names.set(ifindex, name);
    this.goneAt.delete(ifindex);
    const wanted = this.options.include ? this.options.include.test(name) : link.type !== ARPHRD.LOOPBACK;
    const cur = this.attached.get(ifindex);
    if (cur) {
      if (wanted) {
        cur.name = name; // renamed within the filter: same device, same programs
        this.othersCache = undefined;
      } else {
        this.release(cur);
      }
      return;
    }
    this.skipped.delete(ifindex);
    if (!wanted && !this.options.include) this.skipped.set(ifindex, { name, why: LOOPBACK_LEFT_OUT });
    const failed = this.failed.get(ifindex);
    if (!wanted) this.failed.delete(ifindex);
    else if (failed) failed.name = name;
    else this.attach(link);
  }

  private linkDown({ ifindex }: LinkState): void {
    this.goneAt.delete(ifindex);
    this.goneAt.set(ifindex, Date.now());
    const cur = this.attached.get(ifindex);
    if (cur) this.release(cur);
    this.failed.delete(ifindex);
    this.skipped.delete(ifindex);
  }

  private attach({ ifindex, name, type }: LinkState): void {
    const kind = L2_TYPES.has(type) ? 'l2' : L3_TYPES.has(type) ? 'l3' : undefined;
    if (!kind) {
      this.skipped.set(ifindex, { name, why: `link type ${arphrdName(type)} is neither Ethernet-like nor raw IP` });
      return;
    }
    const links: Link[] = [];
    try {
      for (const direction of ['ingress', 'egress'] as const) {
        const prog = `flow_${kind === 'l3' ? 'l3_' : ''}${direction === 'ingress' ? 'in' : 'out'}`;
        // First in the chain: a program attached before ours could drop or redirect what we should see.
        links.push(this.obj.program(prog).attachTc({ interface: ifindex, netns: this.options.netns, direction, mode: this.options.tcMode, first: true }));
      }
    } catch (err) {
      for (const l of links) l.destroy();
      this.failed.set(ifindex, { name, error: (err as Error).message.split('\n')[0]! });
      return;
    }
    const mode = links[0]!.description.startsWith('tcx') ? 'tcx' : 'legacy';
    const a: AttachedInterface = { name, ifindex, kind, mode, links, priorities: mode === 'legacy' ? links.map((l) => l.tcPriority) : [] };
    this.attached.set(ifindex, a);
    this.othersCache = undefined;
    this.options.onAttach?.(a);
  }

  private release(a: AttachedInterface): void {
    for (const l of a.links) {
      try {
        l.destroy();
      } catch {
        // the device is gone, and our filter or link with it
      }
    }
    this.attached.delete(a.ifindex);
    this.othersCache = undefined;
    this.options.onDetach?.(a);
  }

  /** Other programs on our interfaces, and whether they can hide traffic from ours (cached for 5 s). */
  private others(): Map<string, OtherProgram[]> {
    if (this.othersCache && Date.now() - this.othersCache.at < 5000) return this.othersCache.value;
    const value = new Map<string, OtherProgram[]>();
    for (const a of this.attached.values()) value.set(a.name, otherPrograms(a, this.options.netns));
    this.othersCache = { at: Date.now(), value };
    return value;
  }

  report(): InterfaceReport[] {
    const out: InterfaceReport[] = [];
    const others = this.others();
    for (const a of this.attached.values()) {
      out.push({ name: a.name, ifindex: a.ifindex, attached: true, mode: a.mode, program: a.kind === 'l3' ? 'flow_l3_in/out' : 'flow_in/out', others: others.get(a.name) ?? [] });
    }
    for (const [ifindex, f] of this.failed) out.push({ name: f.name, ifindex, attached: false, error: f.error });
    for (const [ifindex, s] of this.skipped) out.push({ name: s.name, ifindex, attached: false, error: s.why });
    return out;
  }

  close(): void {
    this.closed = true;
    this.source?.close();
    for (const a of [...this.attached.values()]) this.release(a);
  }
}

interface TcFilterJson {
  kind?: string;
  pref?: number;
  options?: { bpf_name?: string; 'direct-action'?: boolean; actions?: unknown[]; prog?: { id?: number; name?: string } };
}

/**
 * Other programs that see this interface's packets around ours: legacy TC filters (`tc filter show`)
 * and XDP (`ip link`). tcx runs before every legacy filter, and ours is attached first in the tcx
 * chain, so only XDP (ingress) and, in legacy mode, filters with a lower priority run before us.
 */
export function otherPrograms(a: AttachedInterface, netns?: string): OtherProgram[] {
  const run = (cmd: string, args: string[]): string => {
    const [file, argv] = commandIn(netns, cmd, args);
    return execFileSync(file, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 });
  };
  const out: OtherProgram[] = [];
  (['ingress', 'egress'] as const).forEach((direction, i) => {
    let filters: TcFilterJson[] = [];
    try {
      filters = JSON.parse(run('tc', ['-j', 'filter', 'show', 'dev', a.name, direction]) || '[]') as TcFilterJson[];
    } catch {
      return;
    }
    const seen = new Set<number>();
    for (const f of filters) {
      if (f.pref === undefined || !f.kind || seen.has(f.pref)) continue;
      if (a.mode === 'legacy' && f.pref === a.priorities[i]) continue; // ours
      seen.add(f.pref);
      // tc prints each filter twice (the filter and its handle): one entry per priority.
      const named = filters.find((x) => x.pref === f.pref && (x.options?.bpf_name || x.options?.prog));
      const runsBeforeUs = a.mode === 'legacy' && f.pref < (a.priorities[i] ?? 0);
      const canAct = f.kind !== 'bpf' || (named?.options?.['direct-action'] ?? false) || Boolean(named?.options?.actions);
      out.push({
        hook: 'tc',
        direction,
        name: `${f.kind}${named?.options?.bpf_name ? `:${named.options.bpf_name}` : ''}`,
        priority: f.pref,
        runsBeforeUs,
        canHide: runsBeforeUs && canAct,
      });
    }
  });
  try {
    const links = JSON.parse(run('ip', ['-j', '-d', 'link', 'show', 'dev', a.name])) as Array<{ xdp?: { prog?: { name?: string; id?: number } } }>;
    const xdp = links[0]?.xdp;
    if (xdp) out.push({ hook: 'xdp', direction: 'ingress', name: xdp.prog?.name ?? 'xdp', runsBeforeUs: true, canHide: true });
  } catch {
    // no ip command: XDP unknown
  }
  return out;
}
