// Routes: paths with their identifiers collapsed (/users/42 -> /users/{id}), so that a label stays
// a handful of values per edge. Past the per-edge bound, new routes count as "other".

const ID = '{id}';
const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;
const HEX_ID = /^(?=.*\d)[0-9a-f]{8,}$/i;
const NUMBER = /^[+-]?\d+([.,]\d+)?$/;
/** Long tokens mixing letters and digits (base64 ids, hashes, session ids). */
const TOKEN = /^(?=.*\d)(?=.*[A-Za-z])[A-Za-z0-9_=~.-]{16,}$/;
export const OTHER_ROUTE = 'other';
const MAX_SEGMENTS = 12;
const MAX_SEGMENT_LEN = 64;

/** Whether a path segment is an identifier rather than part of the route. */
export function isIdentifier(segment: string): boolean {
  return NUMBER.test(segment) || UUID.test(segment) || HEX_ID.test(segment) || TOKEN.test(segment) || segment.includes('@');
}

/** Paths seen recently and their routes: most requests repeat a path (bounded; cleared when full). */
const cache = new Map<string, string>();
const CACHE_MAX = 4096;

/** The route of a path: identifiers collapsed, percent-escapes kept as they are, length bounded. */
export function routeOf(path: string, truncated = false): string {
  if (truncated) return collapse(path, true);
  let r = cache.get(path);
  if (r === undefined) {
    if (cache.size >= CACHE_MAX) cache.clear();
    cache.set(path, (r = collapse(path, false)));
  }
  return r;
}

function collapse(path: string, truncated: boolean): string {
  if (path === '' || path === '*') return path === '*' ? '*' : '/';
  if (path[0] !== '/') return OTHER_ROUTE; // absolute-form (proxy) or garbage: no route
  const parts = path.split('/');
  const out: string[] = [];
  for (let i = 0; i < parts.length; i++) {
    const s = parts[i]!;
    if (i === 0) {
      out.push('');
      continue;
    }
    if (out.length > MAX_SEGMENTS) {
      out.push('…');
      break;
    }
    const last = i === parts.length - 1;
    if (last && truncated) {
      out.push('…'); // cut by the kernel's bound: the last segment may be partial
      break;
    }
    out.push(isIdentifier(s) ? ID : s.length > MAX_SEGMENT_LEN ? ID : s);
  }
  return out.join('/') || '/';
}

/** Routes seen on one edge, bounded: the first `max` distinct routes keep their name. */
export class RouteSet {
  private readonly routes = new Set<string>();
  /** Requests whose route was counted as OTHER_ROUTE because the bound was reached. */
  overflowed = 0;

  constructor(private readonly max: number) {}

  admit(route: string): string {
    if (this.routes.has(route)) return route;
    if (this.routes.size < this.max) {
      this.routes.add(route);
      return route;
    }
    this.overflowed++;
    return OTHER_ROUTE;
  }
}
