// Mute rules hide noise (health checks, metric scrapes) from the map and the table. A rule is a
// comma-separated list of terms, all of which must hold for an edge to be muted:
//   port=9090            the edge's port (also protocol=tcp)
//   source=prometheus    the client end's name or id (target= for the server end); * matches anything
//   name=kubelet         either end's name or id
//   namespace=monitoring either end's label (any label key; label.app=x also works)
//   KEY!=VALUE           the opposite
import type { GraphEdge, GraphNode } from './api-types.js';

export interface MuteTerm {
  key: string;
  value: RegExp;
  negate: boolean;
}

export interface MuteRule {
  text: string;
  terms: MuteTerm[];
}

export class MuteRuleError extends Error {
  override name = 'MuteRuleError';
}

function glob(value: string): RegExp {
  const body = value.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(`^${body}$`, 'i');
}

export function parseMuteRule(text: string): MuteRule {
  const terms: MuteTerm[] = [];
  for (const raw of text.split(',')) {
    if (!raw.trim()) continue;
    const m = /^\s*([A-Za-z_][\w.\-/]*)\s*(!=|=)\s*(.*?)\s*$/.exec(raw);
    if (!m) throw new MuteRuleError(`'${raw.trim()}' is not KEY=VALUE or KEY!=VALUE (e.g. port=9090, source=prometheus, namespace=monitoring)`);
    if (m[3] === '') throw new MuteRuleError(`'${raw.trim()}' has no value (use * for any)`);
    terms.push({ key: m[1]!, value: glob(m[3]!), negate: m[2] === '!=' });
  }
  if (terms.length === 0) throw new MuteRuleError('a rule needs at least one term, e.g. port=9090');
  return { text: text.trim(), terms };
}

/** Rules that parse, and the errors of those that do not. */
export function parseMuteRules(texts: readonly string[]): { rules: MuteRule[]; errors: Array<{ text: string; message: string }> } {
  const rules: MuteRule[] = [];
  const errors: Array<{ text: string; message: string }> = [];
  for (const t of texts) {
    try {
      rules.push(parseMuteRule(t));
    } catch (err) {
      errors.push({ text: t, message: (err as Error).message });
    }
  }
  return { rules, errors };
}

function endMatches(n: GraphNode | undefined, id: string, key: string, value: RegExp): boolean {
  if (key === 'name' || key === 'source' || key === 'target') return value.test(id) || (n !== undefined && value.test(n.name));
  if (key === 'kind') return n !== undefined && value.test(n.kind);
  const label = key.startsWith('label.') ? key.slice(6) : key;
  const v = n?.labels[label];
  return v !== undefined && v.split(',').some((part) => value.test(part));
}

function termHolds(t: MuteTerm, e: GraphEdge, nodes: ReadonlyMap<string, GraphNode>): boolean {
  let holds: boolean;
  switch (t.key) {
    case 'port':
      holds = t.value.test(String(e.port));
      break;
    case 'protocol':
      holds = t.value.test(e.protocol);
      break;
    case 'source':
      holds = endMatches(nodes.get(e.source), e.source, t.key, t.value);
      break;
    case 'target':
      holds = endMatches(nodes.get(e.target), e.target, t.key, t.value);
      break;
    default:
      holds = endMatches(nodes.get(e.source), e.source, t.key, t.value) || endMatches(nodes.get(e.target), e.target, t.key, t.value);
  }
  return holds !== t.negate;
}

export function isMuted(e: GraphEdge, rules: readonly MuteRule[], nodes: ReadonlyMap<string, GraphNode>): boolean {
  return rules.some((r) => r.terms.every((t) => termHolds(t, e, nodes)));
}
