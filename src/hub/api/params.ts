// Query parameters: each bad value is a 400 naming the parameter and saying what would do.

export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly status: number,
    message: string,
    /** The parameter or body field at fault. */
    readonly field?: string,
  ) {
    super(message);
  }
}

export const badRequest = (field: string, message: string): ApiError => new ApiError(400, `${field}: ${message}`, field);

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})$/i;
const RELATIVE = /^(?:now)?\s*-\s*(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$/;
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)?$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** RFC 3339, `now`, or relative to now: `-15m`, `now-2h` (units ms, s, m, h, d, w). */
export function parseTime(value: string, field: string, nowMs: number): number {
  const v = value.trim();
  if (v === 'now') return nowMs;
  const rel = RELATIVE.exec(v);
  if (rel) return nowMs - Number(rel[1]) * UNIT_MS[rel[2]!]!;
  if (RFC3339.test(v)) {
    const t = Date.parse(v);
    if (Number.isFinite(t)) return t;
  }
  throw badRequest(field, `'${value}' is not a time: use RFC 3339 (2026-01-02T15:04:05Z), now, or relative like -15m, -2h, -7d`);
}

/** A duration: `30s`, `5m`, `1h`, or seconds as a number. */
export function parseDurationMs(value: string, field: string): number {
  const m = DURATION.exec(value.trim());
  if (!m) throw badRequest(field, `'${value}' is not a duration: use e.g. 30s, 5m, 1h, or a number of seconds`);
  return Number(m[1]) * (m[2] ? UNIT_MS[m[2]]! : 1000);
}

export interface TimeWindow {
  from: number;
  to: number;
}

export const DEFAULT_WINDOW_MS = 5 * 60_000;

/** from/to (default: the last 5 minutes), checked against each other and the retention. */
export function parseWindow(q: URLSearchParams, nowMs: number, retentionMs: number, names: { from: string; to: string } = { from: 'from', to: 'to' }): TimeWindow {
  const toText = q.get(names.to);
  const fromText = q.get(names.from);
  const to = toText ? parseTime(toText, names.to, nowMs) : nowMs;
  const from = fromText ? parseTime(fromText, names.from, nowMs) : to - DEFAULT_WINDOW_MS;
  if (from >= to) throw badRequest(names.from, `must be before ${names.to} (${new Date(from).toISOString()} is not before ${new Date(to).toISOString()})`);
  // A minute of grace: a window that starts at the edge of the retention is fine.
  if (from < nowMs - retentionMs - 60_000) {
    throw badRequest(names.from, `${new Date(from).toISOString()} is beyond the retention (${formatDuration(retentionMs)}): the oldest time queries can reach is ${new Date(nowMs - retentionMs).toISOString()}`);
  }
  return { from, to };
}

export function formatDuration(ms: number): string {
  if (ms % 86_400_000 === 0) return `${ms / 86_400_000}d`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return `${ms / 1000}s`;
}

export function requireParam(q: URLSearchParams, name: string, what: string): string {
  const v = q.get(name);
  if (v === null || v.trim() === '') throw badRequest(name, `is required: ${what}`);
  return v;
}

export function parseInteger(q: URLSearchParams, name: string, fallback: number, min: number, max: number): number {
  const v = q.get(name);
  if (v === null || v === '') return fallback;
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || n < min || n > max) throw badRequest(name, `'${v}' must be a whole number from ${min} to ${max}`);
  return n;
}

export function parseChoice<T extends string>(q: URLSearchParams, name: string, choices: readonly T[], fallback: T): T {
  const v = q.get(name);
  if (v === null || v === '') return fallback;
  if (!(choices as readonly string[]).includes(v)) throw badRequest(name, `'${v}' is not one of ${choices.join(', ')}`);
  return v as T;
}

/** true/false (also 1/0, yes/no). */
export function parseBoolean(q: URLSearchParams, name: string, fallback: boolean): boolean {
  const v = q.get(name);
  if (v === null || v === '') return fallback;
  const t = v.trim().toLowerCase();
  if (t === 'true' || t === '1' || t === 'yes') return true;
  if (t === 'false' || t === '0' || t === 'no') return false;
  throw badRequest(name, `'${v}' is not true or false`);
}
