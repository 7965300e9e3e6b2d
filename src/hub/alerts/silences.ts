// Silences and mutes, each with an expiry. A silence keeps matching alerts from receivers (they are
// still raised, listed and marked on the graph); a mute keeps them from being raised at all (a
// known-noisy edge, a batch job). Matchers work on alert labels as Alertmanager's do: =, !=, =~, !~
// (regular expressions anchored at both ends).
import { randomUUID } from 'node:crypto';
import { z } from 'zod';

export const MATCH_OPS = ['=', '!=', '=~', '!~'] as const;
export type MatchOp = (typeof MATCH_OPS)[number];

export interface Matcher {
  name: string;
  op: MatchOp;
  value: string;
}

export interface Silence {
  id: string;
  kind: 'silence' | 'mute';
  matchers: Matcher[];
  starts_at: string;
  ends_at: string;
  created_by: string;
  comment: string;
}

/** The longest a silence or mute may last: an expiry nobody will remember is no expiry. */
export const MAX_SILENCE_MS = 90 * 86_400_000;

const matcherSchema = z.strictObject({
  name: z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, 'is not a label name'),
  op: z.enum(MATCH_OPS).default('='),
  value: z.string().max(1024),
});

export const silenceRequestSchema = z.strictObject({
  kind: z.enum(['silence', 'mute']).default('silence'),
  matchers: z.array(z.union([matcherSchema, z.string()])).min(1, 'needs at least one matcher').max(32),
  ends_at: z.iso.datetime({ offset: true }).optional(),
  duration: z.string().regex(/^\d+(\.\d+)?(s|m|h|d)$/, "is not a duration: use e.g. 30m, 2h, 1d").optional(),
  created_by: z.string().max(256).default(''),
  comment: z.string().max(4096).default(''),
});

export class SilenceError extends Error {
  override name = 'SilenceError';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

const UNIT: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `namespace=shop`, `target=~payments.*`, `severity!=info` */
export function parseMatcher(text: string, field: string): Matcher {
  const m = /^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"?(.*?)"?\s*$/.exec(text);
  if (!m) throw new SilenceError(field, `'${text}' is not a matcher: use NAME=VALUE, NAME!=VALUE, NAME=~REGEX or NAME!~REGEX`);
  return checkMatcher({ name: m[1]!, op: m[2] as MatchOp, value: m[3]! }, field);
}

function checkMatcher(m: Matcher, field: string): Matcher {
  if (m.op === '=~' || m.op === '!~') {
    try {
      new RegExp(`^(?:${m.value})$`);
    } catch (err) {
      throw new SilenceError(field, `'${m.value}' is not a regular expression: ${(err as Error).message}`);
    }
  }
  return m;
}

const regexes = new Map<string, RegExp>();

function matcherHolds(m: Matcher, labels: Record<string, string>): boolean {
  const v = labels[m.name] ?? '';
  switch (m.op) {
    case '=':
      return v === m.value;
    case '!=':
      return v !== m.value;
    default: {
      let re = regexes.get(m.value);
      if (!re) regexes.set(m.value, (re = new RegExp(`^(?:${m.value})$`)));
      return m.op === '=~' ? re.test(v) : !re.test(v);
    }
  }
}

export class Silences {
  private readonly all = new Map<string, Silence>();

  /** Checks a request body and adds the silence (or mute); errors name the field. */
  create(body: unknown, nowMs: number): Silence {
    const r = silenceRequestSchema.safeParse(body);
    if (!r.success) {
      const issue = r.error.issues[0]!;
      throw new SilenceError(issue.path.map(String).join('.') || 'body', issue.message);
    }
    const req = r.data;
    if ((req.ends_at === undefined) === (req.duration === undefined)) throw new SilenceError('ends_at', 'give ends_at (RFC 3339) or duration (e.g. 2h): every silence and mute expires');
    const endsMs = req.ends_at ? Date.parse(req.ends_at) : nowMs + Number(req.duration!.slice(0, -1)) * UNIT[req.duration!.slice(-1)]!;
    if (!(endsMs > nowMs)) throw new SilenceError(req.ends_at ? 'ends_at' : 'duration', 'must be in the future');
    if (endsMs - nowMs > MAX_SILENCE_MS) throw new SilenceError(req.ends_at ? 'ends_at' : 'duration', `must be within ${MAX_SILENCE_MS / 86_400_000} days`);
    const matchers = req.matchers.map((m, i) => (typeof m === 'string' ? parseMatcher(m, `matchers[${i}]`) : checkMatcher(m, `matchers[${i}]`)));
    const s: Silence = { id: randomUUID(), kind: req.kind, matchers, starts_at: new Date(nowMs).toISOString(), ends_at: new Date(endsMs).toISOString(), created_by: req.created_by, comment: req.comment };
    this.all.set(s.id, s);
    return s;
  }

  /** Ends a silence now (kept, expired, for the record). */
  expire(id: string, nowMs: number): Silence | undefined {
    const s = this.all.get(id);
    if (!s) return undefined;
    if (Date.parse(s.ends_at) > nowMs) s.ends_at = new Date(nowMs).toISOString();
    return s;
  }

  active(nowMs: number): Silence[] {
    return [...this.all.values()].filter((s) => Date.parse(s.starts_at) <= nowMs && Date.parse(s.ends_at) > nowMs);
  }

  list(): Silence[] {
    return [...this.all.values()].sort((a, b) => b.starts_at.localeCompare(a.starts_at));
  }

  /** Ids of the active silences (of a kind) whose matchers all hold for the labels. */
  matching(labels: Record<string, string>, kind: Silence['kind'], nowMs: number): string[] {
    const out: string[] = [];
    for (const s of this.all.values()) {
      if (s.kind !== kind || Date.parse(s.ends_at) <= nowMs) continue;
      if (s.matchers.every((m) => matcherHolds(m, labels))) out.push(s.id);
    }
    return out;
  }

  /** Forgets silences that expired more than `keepMs` ago. */
  prune(nowMs: number, keepMs = 7 * 86_400_000): void {
    for (const [id, s] of this.all) if (Date.parse(s.ends_at) < nowMs - keepMs) this.all.delete(id);
  }

  toJSON(): Silence[] {
    return [...this.all.values()];
  }

  restore(list: Silence[]): void {
    for (const s of list) this.all.set(s.id, s);
  }
}
