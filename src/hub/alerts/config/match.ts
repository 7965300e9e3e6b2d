// Which rules apply to an edge (or a DNS client): the last override whose match holds, else the
// top-level rules. Matches compare namespace and workload (globs with *) and the service port.
import type { AlertsConfig, Match, Rules } from './types.js';

export interface EndScope {
  namespace: string;
  workload: string;
}

export interface EdgeScope {
  client: EndScope;
  server: EndScope;
  port: number;
}

const globs = new Map<string, RegExp>();

function glob(pattern: string, value: string): boolean {
  if (!pattern.includes('*')) return pattern === value;
  let re = globs.get(pattern);
  if (!re) {
    re = new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
    globs.set(pattern, re);
  }
  return re.test(value);
}

function endMatches(m: Match, e: EndScope): boolean {
  return (m.namespace === undefined || glob(m.namespace, e.namespace)) && (m.workload === undefined || glob(m.workload, e.workload));
}

export function matches(m: Match, s: EdgeScope): boolean {
  if (m.port !== undefined && m.port !== s.port) return false;
  if (m.namespace === undefined && m.workload === undefined) return true;
  if (m.side === 'client') return endMatches(m, s.client);
  if (m.side === 'server') return endMatches(m, s.server);
  return endMatches(m, s.client) || endMatches(m, s.server);
}

/** The index of the override that applies (-1: the top-level rules). */
export function overrideFor(config: AlertsConfig, s: EdgeScope): number {
  for (let i = config.overrides.length - 1; i >= 0; i--) if (matches(config.overrides[i]!.match, s)) return i;
  return -1;
}

export function rulesAt(config: AlertsConfig, index: number): Rules {
  return index < 0 ? config.rules : config.overrides[index]!.rules;
}
