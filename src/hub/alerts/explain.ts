// Why an edge alerts, in one sentence: the failure domain (version, pod, node, zone, image,
// process or port, on the client's side or the server's) that holds the largest share of the
// alert's problem compared with its share of the traffic, e.g.
//
//   93% of refused connections to payments:8080 come from checkout v2 on node-b, which sends 35%
//   of the traffic
//
// Domains on the same side whose top parts hold the same share describe the same group (checkout
// v2 pods all run on node-b) and are named together; the shares quoted are the group's own. The
// problem is the alert's: failed connects, resets, retransmissions, or slow round trips or
// connects (at least four times the fastest fine edge's median, and 1 ms). The hub's breakdown by
// the chosen domain is attached, its parts ranked by the alert's signal.
import { C, distribution, failuresOf, mergedDistribution, quantileOrNull, type Side } from '../graph/counters.js';
import { breakdown, DOMAINS, domainValue, slowCount, type Breakdown, type Domain } from '../graph/breakdown.js';
import type { ViewEdge } from '../graph/graph.js';
import type { Explanation } from './model.js';
import type { Signal } from './engine/signals.js';

/** Parts whose traffic share is this close to all of it explain nothing (the only client). */
const ALL = 0.999;
/** Two domains' top parts with shares this close are taken for the same group. */
const SAME_GROUP = 0.02;
/** A lift (problem share minus traffic share) below this says no domain stands out. */
const MIN_LIFT = 0.05;
const SLOW_FACTOR = 4;
const SLOW_FLOOR_SECONDS = 0.001;

type Sides = readonly [Side | undefined, Side | undefined];
type SideName = 'client' | 'server';

const FAILURE_NOUNS: Record<string, string> = {
  refused: 'refused connections',
  timeout: 'timed-out connections',
  unreachable: 'connections to an unreachable peer',
  reset: 'connections reset while connecting',
  other: 'failed connections',
};

export function problemNoun(signal: Signal, failures: Record<string, number>): string {
  switch (signal) {
    case 'failures': {
      const entries = Object.entries(failures).sort((a, b) => b[1] - a[1]);
      const total = entries.reduce((s, [, n]) => s + n, 0);
      if (entries.length && entries[0]![1] >= 0.8 * total) return FAILURE_NOUNS[entries[0]![0]] ?? 'failed connections';
      return 'failed connections';
    }
    case 'rtt':
      return 'slow round trips';
    case 'connect':
      return 'slow connects';
    case 'retransmits':
      return 'retransmissions';
    case 'resets':
      return 'resets';
    default:
      return 'problems';
  }
}

const failureCount = (c: Side | undefined): number => (c ? Object.values(failuresOf(c)).reduce((a, b) => a + b, 0) : 0);

/** Attempts: successful connects and failed ones (a part that only fails still sends traffic). */
function attempts([c, s]: Sides): number {
  return c ? c[C.opened]! + failureCount(c) : s ? s[C.opened]! : 0;
}

/** From where a round trip (or a connect) counts as slow: four times the fastest fine edge's median. */
function slowThreshold(edge: ViewEdge, which: 'rtt' | 'connect'): number {
  let fastest = Infinity;
  for (const m of edge.members) {
    const d = which === 'rtt' ? mergedDistribution(m.sides[0], m.sides[1], 'rtt') : m.sides[0] ? distribution(m.sides[0], 'connect') : undefined;
    const p50 = quantileOrNull(0.5, d);
    if (p50 !== null) fastest = Math.min(fastest, p50);
  }
  return Number.isFinite(fastest) ? Math.max(SLOW_FACTOR * fastest, SLOW_FLOOR_SECONDS) : Infinity;
}

function problemOf(signal: Signal, [c, s]: Sides, slow: number): number {
  const main = c ?? s;
  switch (signal) {
    case 'failures':
      return failureCount(c);
    case 'resets':
      return main ? main[C.resetsSent]! + main[C.resetsReceived]! : 0;
    case 'retransmits':
      return (c?.[C.retransmits] ?? 0) + (s?.[C.retransmits] ?? 0);
    case 'rtt':
      return slowCount(mergedDistribution(c, s, 'rtt'), slow);
    case 'connect':
      return c ? slowCount(distribution(c, 'connect'), slow) : 0;
    default:
      return 0;
  }
}

const pct = (x: number): string => `${Math.round(x * 100)}%`;

function qualifier(domain: Domain, value: string): string {
  switch (domain) {
    case 'version':
      return value;
    case 'pod':
      return `pod ${value}`;
    case 'node':
      return `on ${value}`;
    case 'zone':
      return `in ${value}`;
    case 'image':
      return `(image ${value})`;
    case 'process':
      return `process ${value}`;
    case 'port':
      return `port ${value}`;
  }
}

/** Domains in the order a description names them, and the preferred one on a tie. */
const ORDER: Domain[] = ['version', 'pod', 'process', 'image', 'node', 'zone', 'port'];

interface Part {
  domain: Domain;
  side: SideName;
  value: string;
  problem: number;
  traffic: number;
  share: number;
  trafficShare: number;
}

const partKey = (side: SideName, value: string): string => `${side}\u0000${value}`;

export interface ExplainInput {
  edge: ViewEdge;
  signal: Signal;
  /** The window the numbers are from (ms). */
  from: number;
  to: number;
}

export function explain({ edge, signal, from, to }: ExplainInput, nowMs: number): Explanation {
  const failures: Record<string, number> = {};
  for (const m of edge.members) for (const [r, n] of Object.entries(m.sides[0] ? failuresOf(m.sides[0]) : {})) failures[r] = (failures[r] ?? 0) + n;
  const noun = problemNoun(signal, failures);
  const target = `${edge.target.name}:${edge.port}`;
  const slow = signal === 'rtt' || signal === 'connect' ? slowThreshold(edge, signal) : Infinity;
  const members = edge.members.map((m) => ({ m, traffic: attempts(m.sides), problem: problemOf(signal, m.sides, slow) }));
  const totalTraffic = members.reduce((s, x) => s + x.traffic, 0);
  const totalProblem = members.reduce((s, x) => s + x.problem, 0);

  const partsOf = (domain: Domain): Map<string, Part> => {
    const parts = new Map<string, Part>();
    for (const { m, traffic, problem } of members) {
      for (const side of ['client', 'server'] as const) {
        if (side === 'client' && domain === 'port') continue;
        const value = domainValue(side === 'client' ? m.edge.client : m.edge.server, domain, m.edge.port);
        const key = partKey(side, value);
        let p = parts.get(key);
        if (!p) parts.set(key, (p = { domain, side, value, problem: 0, traffic: 0, share: 0, trafficShare: 0 }));
        p.problem += problem;
        p.traffic += traffic;
      }
    }
    for (const p of parts.values()) {
      p.share = totalProblem > 0 ? p.problem / totalProblem : 0;
      p.trafficShare = totalTraffic > 0 ? p.traffic / totalTraffic : 0;
    }
    return parts;
  };
  const lift = (p: Part): number => p.share - p.trafficShare;

  const byDomain = new Map<Domain, Map<string, Part>>();
  const tops: Part[] = [];
  for (const domain of DOMAINS) {
    const parts = partsOf(domain);
    byDomain.set(domain, parts);
    let top: Part | undefined;
    for (const p of parts.values()) if (p.trafficShare < ALL && (!top || lift(p) > lift(top))) top = p;
    if (top) tops.push(top);
  }
  tops.sort((a, b) => lift(b) - lift(a) || ORDER.indexOf(a.domain) - ORDER.indexOf(b.domain));
  const best = tops[0];
  const computedAt = new Date(nowMs).toISOString();
  const window = { from: new Date(from).toISOString(), to: new Date(to).toISOString() };
  const attach = (domain: Domain): Explanation['breakdown'] => ({ ...ranked(breakdown(edge, domain), byDomain.get(domain)!), ...window });
  if (!best || totalProblem <= 0 || lift(best) < MIN_LIFT) {
    return {
      sentence: `${capitalise(noun)} from ${edge.source.name} to ${target} are spread over all of its traffic: no version, pod, node or zone on either side stands out`,
      domain: null,
      side: null,
      value: null,
      problem_share: null,
      traffic_share: null,
      breakdown: attach('node'),
      computed_at: computedAt,
    };
  }
  const side = best.side;
  const group = tops
    .filter((p) => p.side === side && Math.abs(p.share - best.share) <= SAME_GROUP && lift(p) >= lift(best) / 2)
    .sort((a, b) => ORDER.indexOf(a.domain) - ORDER.indexOf(b.domain));
  // The group's own shares: members whose end on that side matches every named value.
  let problem = 0;
  let traffic = 0;
  for (const { m, traffic: t, problem: p } of members) {
    const end = side === 'client' ? m.edge.client : m.edge.server;
    if (group.every((g) => domainValue(end, g.domain, m.edge.port) === g.value)) {
      problem += p;
      traffic += t;
    }
  }
  const problemShare = problem / totalProblem;
  const trafficShare = totalTraffic > 0 ? traffic / totalTraffic : 0;
  // A node implies its zone, and a version usually is the image's tag: said once.
  const named = new Set(group.map((g) => g.domain));
  const said = group.filter((g) => !(g.domain === 'zone' && named.has('node')) && !(g.domain === 'image' && named.has('version')));
  const who = [side === 'client' ? edge.source.name : edge.target.name, ...said.map((g) => qualifier(g.domain, g.value))].join(' ');
  const sentence =
    side === 'client'
      ? `${pct(problemShare)} of ${noun} to ${target} come from ${who}, which sends ${pct(trafficShare)} of the traffic`
      : `${pct(problemShare)} of ${noun} from ${edge.source.name} to ${target} land on ${who}, which receives ${pct(trafficShare)} of the traffic`;
  return {
    sentence,
    domain: best.domain,
    side,
    value: best.value,
    problem_share: round3(problemShare),
    traffic_share: round3(trafficShare),
    breakdown: attach(best.domain),
    computed_at: computedAt,
  };
}

/** The hub's breakdown with its parts ranked by the alert's signal (each part's share beside it). */
function ranked(b: Breakdown, parts: Map<string, Part>): Breakdown {
  const out = b.parts
    .map((p) => ({ ...p, signal_share: round3(parts.get(partKey(p.side, p.value))?.share ?? 0) }))
    .sort((x, y) => Number(x.traffic_share >= ALL) - Number(y.traffic_share >= ALL) || y.signal_share - x.signal_share || y.problem_share - x.problem_share || x.value.localeCompare(y.value));
  return { ...b, parts: out };
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;
const capitalise = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);
