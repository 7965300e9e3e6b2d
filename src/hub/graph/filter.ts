// The graph's `filter`: comma-separated terms `key=value` or `key!=value`; an edge is kept when
// its port and protocol terms hold and one of its ends satisfies every endpoint term.
import type { Endpoint } from './endpoint.js';
import type { ResolvedEdge } from '../store/store.js';

const ENDPOINT_KEYS = {
  node: 'node',
  zone: 'zone',
  namespace: 'namespace',
  workload: 'workload',
  pod: 'pod',
  container: 'container',
  process: 'process',
  service: 'service',
  image: 'image',
  version: 'version',
  kind: 'kind',
  address: 'addr',
  dns: 'dns',
} as const satisfies Record<string, keyof Endpoint>;
type EndpointKey = keyof typeof ENDPOINT_KEYS;

export const FILTER_KEYS = [...Object.keys(ENDPOINT_KEYS), 'port', 'protocol', 'label.KEY'];

export class FilterError extends Error {
  override name = 'FilterError';
}

interface Term {
  key: string;
  value: string;
  negate: boolean;
}

export class Filter {
  private constructor(
    /** As given: what identifies the filter. */
    readonly text: string,
    private readonly edgeTerms: Term[],
    private readonly endTerms: Term[],
  ) {}

  static parse(text: string): Filter | undefined {
    if (!text.trim()) return undefined;
    const edgeTerms: Term[] = [];
    const endTerms: Term[] = [];
    for (const raw of text.split(',')) {
      const m = /^\s*([A-Za-z_][\w.\-/]*)\s*(!=|=)\s*(.*?)\s*$/.exec(raw);
      if (!m) throw new FilterError(`filter term '${raw}' is not KEY=VALUE or KEY!=VALUE (keys: ${FILTER_KEYS.join(', ')})`);
      const term = { key: m[1]!, value: m[3]!, negate: m[2] === '!=' };
      if (term.key === 'port' || term.key === 'protocol') edgeTerms.push(term);
      else if (term.key in ENDPOINT_KEYS || term.key.startsWith('label.')) endTerms.push(term);
      else throw new FilterError(`filter key '${term.key}' is unknown: use one of ${FILTER_KEYS.join(', ')}`);
    }
    return new Filter(text.trim(), edgeTerms, endTerms);
  }

  private static endValue(e: Endpoint, key: string): string {
    if (key.startsWith('label.')) return e.labels[key.slice(6)] ?? '';
    return String(e[ENDPOINT_KEYS[key as EndpointKey]]);
  }

  matchesEnd(e: Endpoint): boolean {
    return this.endTerms.every((t) => (Filter.endValue(e, t.key) === t.value) !== t.negate);
  }

  /** Whether the filter has terms about ends (else only port and protocol decide). */
  get hasEndTerms(): boolean {
    return this.endTerms.length > 0;
  }

  /** The port and protocol terms. */
  matchesEdgeTerms(edge: { readonly port: number; readonly protocol: string }): boolean {
    for (const t of this.edgeTerms) {
      const v = t.key === 'port' ? String(edge.port) : edge.protocol;
      if ((v === t.value) === t.negate) return false;
    }
    return true;
  }

  matches(edge: ResolvedEdge): boolean {
    if (!this.matchesEdgeTerms(edge)) return false;
    if (this.endTerms.length === 0) return true;
    return this.matchesEnd(edge.client) || this.matchesEnd(edge.server);
  }
}
