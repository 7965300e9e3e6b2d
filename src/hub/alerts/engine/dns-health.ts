// DNS health per asking workload and server: the share of requests that came back SERVFAIL, that
// got no answer (TIMEOUT), and that were NXDOMAIN. SERVFAIL and timeouts are never normal and are
// judged against fixed ratios; NXDOMAIN is normal for many clients (search-domain expansion asks
// for names that do not exist), so it is judged against the client's own band.
import type { wire } from '../../../model/index.js';
import { knowsWorkload, processEndpoint } from '../../graph/endpoint.js';
import { nodeOf, type NodeRef, type View } from '../../graph/views.js';
import { overrideFor, type EdgeScope } from '../config/match.js';
import type { AlertsConfig, DnsRule } from '../config/types.js';
import { Baselines } from '../stats/baselines.js';
import { upperBand } from '../stats/robust.js';
import { WindowSet } from '../stats/windows.js';
import { BAD, DNS_SIGNALS, GOOD, UNKNOWN } from './signals.js';

const REQUESTS = 0;
const SERVFAIL = 1;
const TIMEOUT = 2;
const NXDOMAIN = 3;

export interface DnsSlot {
  readonly index: number;
  /** `client|server`: the client's node id in the alerting view and the server's address. */
  readonly id: string;
  readonly client: NodeRef;
  readonly server: string;
  readonly scope: EdgeScope;
  readonly override: number;
  readonly firstSeenMs: number;
  lastDataMs: number;
}

export class DnsHealth {
  readonly slots: DnsSlot[] = [];
  private readonly byId = new Map<string, number>();
  readonly window: WindowSet;
  readonly baselines: Baselines;
  pendingSince: Float64Array;
  private readonly rules: DnsRule[];
  dropped = 0;
  private readonly values = new Float64Array(4);

  constructor(
    private readonly config: AlertsConfig,
    private readonly view: View,
  ) {
    const { shortMs } = config.resolution;
    this.window = new WindowSet(shortMs, [Math.max(1, Math.round(config.baseline.windowMs / shortMs))], 4, 64);
    this.baselines = new Baselines(1, config.baseline.points, 64);
    this.pendingSince = new Float64Array(64 * DNS_SIGNALS.length);
    this.rules = [config.rules.dns, ...config.overrides.map((o) => o.rules.dns)];
  }

  get bytesPerSlot(): number {
    return this.window.bytesPerSlot + this.baselines.bytesPerSlot + DNS_SIGNALS.length * 8;
  }

  ruleOf(slot: number): DnsRule {
    return this.rules[this.slots[slot]!.override + 1]!;
  }

  slotById(id: string): number | undefined {
    return this.byId.get(id);
  }

  addSlot(s: Omit<DnsSlot, 'index' | 'override' | 'lastDataMs'>): number {
    const index = this.slots.length;
    this.slots.push({ ...s, index, override: overrideFor(this.config, s.scope), lastDataMs: 0 });
    this.byId.set(s.id, index);
    const n = this.slots.length;
    this.window.ensure(n);
    this.baselines.ensure(n);
    if (this.pendingSince.length < n * DNS_SIGNALS.length) {
      const grown = new Float64Array(this.pendingSince.length * 2);
      grown.set(this.pendingSince);
      this.pendingSince = grown;
    }
    return index;
  }

  advance(nowMs: number): void {
    this.window.advanceTo(this.window.bucketOf(nowMs), this.slots.length);
  }

  /** One agent's DNS records of one interval. */
  addRecords(node: string, zone: string, tMs: number, records: readonly wire.DnsV1[], nowMs: number): void {
    for (const r of records) {
      // A client the agent could not name (a process of the node itself) is its node.
      const client = knowsWorkload(r.client) ? nodeOf(processEndpoint(node, zone, '', '', r.client), this.view) : { id: `node:${node}`, kind: 'node', name: node };
      const id = `${client.id}|${r.server}`;
      let slot = this.byId.get(id);
      if (slot === undefined) {
        const scope: EdgeScope = { client: { namespace: r.client.namespace ?? '', workload: r.client.workload ?? '' }, server: { namespace: '', workload: '' }, port: 53 };
        slot = this.addSlot({ id, client, server: r.server, scope, firstSeenMs: nowMs });
      }
      const v = this.values;
      v.fill(0);
      for (const [rcode, n] of Object.entries(r.rcodes)) {
        v[REQUESTS]! += n;
        if (rcode === 'SERVFAIL') v[SERVFAIL]! += n;
        else if (rcode === 'TIMEOUT') v[TIMEOUT]! += n;
        else if (rcode === 'NXDOMAIN') v[NXDOMAIN]! += n;
      }
      this.slots[slot]!.lastDataMs = Math.max(this.slots[slot]!.lastDataMs, tMs);
      if (!this.window.add(slot, Math.min(this.window.bucketOf(tMs), this.window.currentBucket), v)) this.dropped++;
    }
  }

  /** Requests over the window and the ratio of each signal (DNS_SIGNALS order). */
  current(slot: number): { requests: number; ratios: [number, number, number] } {
    const s = (f: number): number => this.window.sum(slot, 0, f);
    const requests = s(REQUESTS);
    return { requests, ratios: [s(SERVFAIL) / requests, s(TIMEOUT) / requests, s(NXDOMAIN) / requests] };
  }

  /** The NXDOMAIN ratio's upper band (NaN: too little history). */
  nxdomainUpper(slot: number): number {
    if (this.baselines.count(slot, 0) < this.config.baseline.minPoints) return NaN;
    const r = this.ruleOf(slot);
    return upperBand(this.baselines.median(slot, 0), this.baselines.mad(slot, 0), { mads: r.nxdomain.mads, minIncrease: 0, minDelta: r.nxdomain.minDelta });
  }

  judge(slot: number, out: Uint8Array): void {
    const rule = this.ruleOf(slot);
    const { requests, ratios } = this.current(slot);
    if (!rule.enabled || !(requests >= rule.minRequests) || requests <= 0) {
      out.fill(UNKNOWN);
      return;
    }
    out[0] = ratios[0] > rule.servfail ? BAD : GOOD;
    out[1] = ratios[1] > rule.timeout ? BAD : GOOD;
    const upper = this.nxdomainUpper(slot);
    out[2] = Number.isNaN(upper) ? UNKNOWN : ratios[2] > upper ? BAD : GOOD;
  }

  recordPoints(skip: (slot: number) => boolean): void {
    for (let slot = 0; slot < this.slots.length; slot++) {
      const rule = this.ruleOf(slot);
      const { requests, ratios } = this.current(slot);
      if (!rule.enabled || !(requests >= rule.minRequests) || skip(slot)) continue;
      this.baselines.add(slot, 0, ratios[2]);
    }
  }
}
