// Which interfaces carry the flow classifier: every interface of this network namespace that
// matches the filter, attached when it appears and released when it goes. The names come from
// /proc/self/net/dev every interval (the process's own network namespace, even where /sys belongs
// to another, as under `nsenter --net`); when they change, and every few intervals anyway (a device
// re-created under the same name), `ip -j link` gives indexes and types. A pragmatic stand-in for
// netlink link events: at most one interval late.
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import type { BpfObject, Link } from '../../bpf/index.js';

/** Link types (iproute2 names) whose packets start at an Ethernet header (Ethernet, veth, bridge, bond, loopback). */
const L2_TYPES = new Set(['ether', 'loopback']);
/** Raw IP devices: tun and wireguard (none), ipip, ip6tnl (tunnel6), sit, gre. */
const L3_TYPES = new Set(['none', 'ipip', 'tunnel6', 'sit', 'gre', 'ip6gre']);
const FULL_SCAN_EVERY = 10;

interface LinkInfo {
  ifindex: number;
  ifname: string;
  link_type?: string;
}

/** Interface names of this process's network namespace. */
function devNames(): string[] {
  try {
    return readFileSync('/proc/self/net/dev', 'utf8')
      .split('\n')
      .slice(2)
      .map((l) => l.split(':')[0]!.trim())
      .filter(Boolean);
  } catch {
    return [];
  }
}

function listLinks(): LinkInfo[] | undefined {
  try {
    return JSON.parse(execFileSync('ip', ['-j', 'link', 'show'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 })) as LinkInfo[];
  } catch {
    return undefined;
  }
}

export interface OtherProgram {
  /** Where it runs: 'tc' (a legacy cls_bpf or other classifier), 'xdp'. */
  hook: string;
  direction: 'ingress' | 'egress';
  name: string;
  priority?: number;
  /** It runs before ours and may end the packet's way (drop, redirect): what it hides, we do not see. */
  runsBeforeUs: boolean;
  canHide: boolean;
}

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

export interface InterfaceReport {
  name: string;
  ifindex: number;
  attached: boolean;
  mode?: 'tcx' | 'legacy';
  program?: string;
  error?: string;
  others?: OtherProgram[];
}

export interface InterfaceWatcherOptions {
  /** Only interfaces whose name matches (default: all). */
  include?: RegExp;
  /** 'auto' (tcx where present), 'tcx' or 'legacy'. */
  tcMode: 'auto' | 'tcx' | 'legacy';
  onAttach?: (i: AttachedInterface) => void;
  onDetach?: (i: AttachedInterface) => void;
}

export class InterfaceWatcher {
  /** By name. */
  private readonly attached = new Map<string, AttachedInterface>();
  /** Interfaces we could not attach to, by name, with the ifindex that failed (retried when it changes). */
  private readonly failed = new Map<string, { ifindex: number; error: string }>();
  private readonly skipped = new Map<string, string>();
  /** Names of interfaces ever seen, by ifindex (flows outlive their interface). */
  readonly names = new Map<number, string>();
  private othersCache: { at: number; value: Map<string, OtherProgram[]> } | undefined;

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

  private lastNames = '';
  private scans = 0;

  /** Lists the interfaces, attaches to new ones, releases gone ones. */
  scan(): void {
    const names = devNames().join(' ');
    if (names === this.lastNames && ++this.scans % FULL_SCAN_EVERY !== 0) return;
    const links = listLinks();
    if (!links) return; // no `ip`: try again next interval
    this.lastNames = names;
    const seen = new Set<string>();
    for (const { ifname: name, ifindex, link_type: type } of links) {
      if (this.options.include && !this.options.include.test(name)) continue;
      seen.add(name);
      this.names.set(ifindex, name);
      const cur = this.attached.get(name);
      if (cur && cur.ifindex === ifindex) continue;
      if (cur) this.release(cur); // same name, new device
      const f = this.failed.get(name);
      if (f && f.ifindex === ifindex) continue;
      this.attach(name, ifindex, type ?? 'unknown');
    }
    for (const [name, cur] of this.attached) if (!seen.has(name)) this.release(cur);
    for (const name of this.failed.keys()) if (!seen.has(name)) this.failed.delete(name);
  }

  private attach(name: string, ifindex: number, type: string): void {
    const kind = L2_TYPES.has(type) ? 'l2' : L3_TYPES.has(type) ? 'l3' : undefined;
    if (!kind) {
      this.skipped.set(name, `link type ${type} is neither Ethernet-like nor raw IP`);
      return;
    }
    const links: Link[] = [];
    try {
      for (const direction of ['ingress', 'egress'] as const) {
        const prog = `flow_${kind === 'l3' ? 'l3_' : ''}${direction === 'ingress' ? 'in' : 'out'}`;
        // First in the chain: a program attached before ours could drop or redirect what we should see.
        links.push(this.obj.program(prog).attachTc({ interface: ifindex, direction, mode: this.options.tcMode, first: true }));
      }
    } catch (err) {
      for (const l of links) l.destroy();
      this.failed.set(name, { ifindex, error: (err as Error).message.split('\n')[0]! });
      return;
    }
    const mode = links[0]!.description.startsWith('tcx') ? 'tcx' : 'legacy';
    const a: AttachedInterface = { name, ifindex, kind, mode, links, priorities: mode === 'legacy' ? links.map((l) => l.tcPriority) : [] };
    this.attached.set(name, a);
    this.failed.delete(name);
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
    this.attached.delete(a.name);
    this.othersCache = undefined;
    this.options.onDetach?.(a);
  }

  /** Other programs on our interfaces, and whether they can hide traffic from ours (cached for 5 s). */
  private others(): Map<string, OtherProgram[]> {
    if (this.othersCache && Date.now() - this.othersCache.at < 5000) return this.othersCache.value;
    const value = new Map<string, OtherProgram[]>();
    for (const a of this.attached.values()) value.set(a.name, otherPrograms(a));
    this.othersCache = { at: Date.now(), value };
    return value;
  }

  report(): InterfaceReport[] {
    const out: InterfaceReport[] = [];
    const others = this.others();
    for (const a of this.attached.values()) {
      out.push({ name: a.name, ifindex: a.ifindex, attached: true, mode: a.mode, program: a.kind === 'l3' ? 'flow_l3_in/out' : 'flow_in/out', others: others.get(a.name) ?? [] });
    }
    for (const [name, f] of this.failed) out.push({ name, ifindex: f.ifindex, attached: false, error: f.error });
    for (const [name, why] of this.skipped) if (!this.attached.has(name)) out.push({ name, ifindex: 0, attached: false, error: why });
    return out;
  }

  close(): void {
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
export function otherPrograms(a: AttachedInterface): OtherProgram[] {
  const out: OtherProgram[] = [];
  (['ingress', 'egress'] as const).forEach((direction, i) => {
    let filters: TcFilterJson[] = [];
    try {
      filters = JSON.parse(execFileSync('tc', ['-j', 'filter', 'show', 'dev', a.name, direction], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 }) || '[]') as TcFilterJson[];
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
    const links = JSON.parse(execFileSync('ip', ['-j', '-d', 'link', 'show', 'dev', a.name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 })) as Array<{ xdp?: { prog?: { name?: string; id?: number } } }>;
    const xdp = links[0]?.xdp;
    if (xdp) out.push({ hook: 'xdp', direction: 'ingress', name: xdp.prog?.name ?? 'xdp', runsBeforeUs: true, canHide: true });
  } catch {
    // no ip command: XDP unknown
  }
  return out;
}
