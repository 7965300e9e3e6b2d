// Secrets out of command lines, for `--process-args` (by default no argument leaves the agent).
// Each argument goes through, in order:
// - text rules that hold anywhere: URL passwords of any scheme, query and conninfo parameters and
//   JSON keys named like secrets, Bearer credentials, openssl pass: sources, Slack webhook paths,
//   and tokens by their documented formats (secret-names.ts);
// - structure: `Header: value` with a credential header, NAME=VALUE and --name=value whose name holds
//   a secret, flags named like secrets and their separate value (--password X), the short flags and
//   positional arguments of programs that are known to carry secrets (secret-programs.ts);
// - arguments holding a command (sh -c "...", mysql -e "...") are split into words and redacted the same
//   way, to a bounded depth.
// What is replaced becomes <redacted>; what is not a secret stays as written.
import { isSecretName, TOKEN_FORMATS } from './secret-names.js';
import { isKnownProgram, rulesFor, type FlagRule, type ProgramRules, type SecretPart } from './secret-programs.js';
import { replaceWords, shellWords } from './shell-words.js';

export { isSecretName } from './secret-names.js';

export const REDACTED = '<redacted>';

/** Commands inside arguments inside commands...: deeper text gets the text rules only. */
const MAX_DEPTH = 3;

/** name=value or -name=value or --name=value. */
const ASSIGNMENT = /^(-{0,2})([A-Za-z_][\w.-]*)=(.*)$/s;
/** A flag alone: its value may be the next argument. */
const FLAG = /^-{1,2}([A-Za-z][\w.-]*)$/;
/** `Name: value` with an HTTP header name. */
const HEADER = /^(\s*)([A-Za-z][A-Za-z0-9-]*)(\s*:\s*)([\s\S]*)$/;
/** Authentication schemes kept in front of a redacted header value (RFC 9110 §11). */
const AUTH_SCHEME = /^(bearer|basic|digest|token|negotiate|ntlm|aws4-hmac-sha256|apikey|sso-key)(\s+)/i;
/** Words that end one command and start another inside a shell string. */
const COMMAND_SEPARATORS = new Set([';', '&&', '||', '|', '&', '(', ')', '{', '}', 'then', 'do', 'else']);
/** Programs that run the command after them. */
const WRAPPERS = new Set(['sudo', 'env', 'exec', 'nohup', 'timeout', 'nice', 'ionice', 'time', 'xargs', 'watch', 'stdbuf', 'chroot', 'runuser', 'setsid', 'strace', 'ltrace', 'unbuffer']);

/** scheme://user:password@ (password up to the last @ before the path: unencoded @ in passwords happen). */
const URL_USERINFO = /(\b[a-z][a-z0-9+.-]*:\/\/[^/\s:@?#]*):([^/\s?#]*)@/gi;
/** name=value inside text: query strings, conninfo, `;`-separated connection strings, npm's //host/:_authToken=. */
const EMBEDDED_ASSIGNMENT = /(^|[?&;,:/|\s])([A-Za-z_][\w.-]*)(\s*=\s*)('[^']*'|"[^"]*"|[^&;,\s#|]*)/g;
/** A key that is a path ending in a name: npm's //registry.npmjs.org/:_authToken=VALUE. */
const PATH_ASSIGNMENT = /^([^=\s]*[:/]([A-Za-z_][\w.-]*))=(.*)$/s;
/** "name": "value" in JSON. */
const JSON_MEMBER = /("([A-Za-z_][\w.-]*)"\s*:\s*")((?:\\.|[^"\\])*)"/g;
const BEARER = /\b(bearer)(\s+)([^\s"',;]+)/gi;
/** openssl-passphrase-options(1): pass:password */
const OPENSSL_PASS = /^pass:.+$/s;
/** Incoming webhooks: the last path segment is the secret. */
const SLACK_WEBHOOK = /(hooks\.slack\.com\/(?:services|workflows|triggers)\/(?:[A-Za-z0-9]+\/){1,3})[A-Za-z0-9]+/g;

/** The text rules: safe on any text, idempotent. */
export function scrub(text: string): string {
  let s = text;
  s = s.replace(URL_USERINFO, (m, head: string, pass: string) => (pass ? `${head}:${REDACTED}@` : m));
  s = s.replace(EMBEDDED_ASSIGNMENT, (m, sep: string, name: string, eq: string, value: string) => {
    if (!value || value === REDACTED || !isSecretName(name)) return m;
    const q = value[0] === "'" || value[0] === '"' ? value[0] : '';
    return `${sep}${name}${eq}${q}${REDACTED}${q}`;
  });
  s = s.replace(JSON_MEMBER, (m, head: string, name: string, value: string) => (value && isSecretName(name) ? `${head}${REDACTED}"` : m));
  s = s.replace(BEARER, (m, word: string, space: string, value: string) => (value === REDACTED ? m : `${word}${space}${REDACTED}`));
  if (OPENSSL_PASS.test(s)) s = `pass:${REDACTED}`;
  s = s.replace(SLACK_WEBHOOK, `$1${REDACTED}`);
  for (const f of TOKEN_FORMATS) s = s.replace(f.pattern, REDACTED);
  return s;
}

function redactHeaderValue(value: string): string {
  const scheme = AUTH_SCHEME.exec(value);
  return scheme ? `${scheme[1]}${scheme[2]}${REDACTED}` : REDACTED;
}

/** One argument on its own (no neighbours): header, assignment, embedded command, text rules. */
function redactArg(arg: string, depth: number): string {
  const s = scrub(arg);
  const h = HEADER.exec(s);
  if (h && isSecretName(h[2]!) && h[4]) return `${h[1]}${h[2]}${h[3]}${redactHeaderValue(h[4])}`;
  const a = ASSIGNMENT.exec(s);
  if (a) {
    const [, dashes, name, value] = a as unknown as [string, string, string, string];
    if (isSecretName(name)) return value ? `${dashes}${name}=${REDACTED}` : s;
    return `${dashes}${name}=${depth < MAX_DEPTH ? redactArg(value, depth + 1) : value}`;
  }
  const pa = PATH_ASSIGNMENT.exec(s);
  if (pa && pa[3] && isSecretName(pa[2]!)) return `${pa[1]}=${REDACTED}`;
  if (depth < MAX_DEPTH && /\s/.test(s.trim())) {
    const words = shellWords(s);
    return replaceWords(s, words, redactWords(words.map((w) => w.value), depth + 1));
  }
  return s;
}

function secretPart(value: string, part: SecretPart): string {
  if (part === 'all') return value ? REDACTED : value;
  const sep = part === 'after-colon' ? ':' : part === 'after-percent' ? '%' : ',';
  const at = value.indexOf(sep);
  if (at < 0 || at === value.length - 1) return scrub(value);
  return `${scrub(value.slice(0, at))}${sep}${REDACTED}`;
}

const ORACLE_LOGON = /^([^\s/@'"=]+)\/([^@\s]+)(@.*)?$/s;
const isFlag = (w: string): boolean => w.length > 1 && w.startsWith('-');
const isPositional = (w: string): boolean => !isFlag(w) && !ASSIGNMENT.test(w);
/** A bare word naming a secret as a configuration key: aws configure set aws_secret_access_key V,
 *  redis-cli CONFIG SET requirepass V, git config user.password V, SET PASSWORD = 'V'. */
const isSecretKeyWord = (w: string): boolean => {
  if (!/^[A-Za-z_][\w.-]*$/.test(w)) return false;
  const last = w.split(/[_.]/).pop()!;
  // Not "auth" or "pass" alone: commands (redis-cli AUTH, gh auth login, pass show).
  return (w !== last || /^(password|passwd)$|.(pass|auth)$/i.test(w)) && isSecretName(last);
};

interface Program {
  rules: ProgramRules | undefined;
  flags: Record<string, FlagRule>;
  /** Index of the program's word: positional rules look after it. */
  at: number;
}

function programAt(words: readonly string[], at: number): Program {
  const rules = rulesFor(words[at] ?? '');
  const active = rules?.flags && (!rules.onlyWith || words.slice(at + 1).includes(rules.onlyWith));
  return { rules, flags: active ? rules.flags! : {}, at };
}

/** A flag of the program with its value attached: -pSECRET, -uuser:pass, --user=user:pass. */
function attachedFlag(word: string, flags: Record<string, FlagRule>): string | undefined {
  const eq = word.indexOf('=');
  if (word.startsWith('--') && eq > 0) {
    const rule = flags[word.slice(0, eq)];
    if (rule?.attached) return `${word.slice(0, eq + 1)}${secretPart(word.slice(eq + 1), rule.part)}`;
    return undefined;
  }
  if (word.length > 2 && word[0] === '-' && word[1] !== '-') {
    const rule = flags[word.slice(0, 2)];
    if (rule?.attached) return `${word.slice(0, 2)}${secretPart(word.slice(2), rule.part)}`;
  }
  return undefined;
}

/** Positional secrets of the program at `p` (indices to redact, and how). */
function positionalSecrets(words: readonly string[], p: Program, end: number): Map<number, (w: string) => string> {
  const out = new Map<number, (w: string) => string>();
  const all = (): string => REDACTED;
  switch (p.rules?.positional) {
    case 'last-in-batch-mode': {
      if (end - 1 > p.at && words.slice(p.at + 1, end - 1).some((w) => /^-[A-Za-z]*b[A-Za-z]*$/.test(w))) out.set(end - 1, all);
      break;
    }
    case 'after-login': {
      const login = words.indexOf('login', p.at + 1);
      if (login < 0 || login >= end) break;
      for (let i = login + 1; i < end; i++) {
        if (!isFlag(words[i]!)) {
          out.set(i, all);
          break;
        }
      }
      break;
    }
    case 'after-auth': {
      // AUTH [username] password
      const auth = words.findIndex((w, i) => i > p.at && i < end && /^auth$/i.test(w));
      if (auth < 0) break;
      const args = end - auth - 1;
      for (let i = auth + (args >= 2 ? 2 : 1); i < end; i++) out.set(i, all);
      break;
    }
    case 'oracle-logon': {
      const logon = (w: string): string => w.replace(ORACLE_LOGON, (_m, user: string, _pw: string, rest?: string) => `${user}/${REDACTED}${rest ?? ''}`);
      for (let i = p.at + 1; i < end; i++) {
        const w = words[i]!;
        const a = ASSIGNMENT.exec(w);
        if (a && /^(userid|logon|connect)$/i.test(a[2]!)) out.set(i, (x) => `${a[1]}${a[2]}=${logon(x.slice(x.indexOf('=') + 1))}`);
        else if (!isFlag(w) && ORACLE_LOGON.test(w)) out.set(i, logon);
      }
      break;
    }
    default:
      break;
  }
  return out;
}

/** Where each command of a word list starts (after separators; a wrapper's command starts its own). */
function commandStarts(words: readonly string[], nested: boolean): number[] {
  const starts = [0];
  let expectProgram = false;
  words.forEach((w, i) => {
    if (i === 0) {
      expectProgram = WRAPPERS.has(w);
      return;
    }
    if (COMMAND_SEPARATORS.has(w) || /[;&|]$/.test(w)) {
      expectProgram = true;
      return;
    }
    if (expectProgram && isPositional(w)) {
      starts.push(i);
      expectProgram = WRAPPERS.has(w);
      return;
    }
    // docker exec db mysql -p..., kubectl exec pod -- redis-cli -a ...
    if (nested && isPositional(w) && isKnownProgram(w)) starts.push(i);
  });
  return starts;
}

/**
 * A known program's name inside a command may start a nested command (docker exec db mysql -p...)
 * or be a value (curl -u admin:pw/az, redis-cli AUTH x/kubectl): both readings are redacted and
 * a word redacted by either is redacted.
 */
function redactWords(words: readonly string[], depth: number): string[] {
  const split = redactCommands(words, commandStarts(words, true), depth);
  const whole = redactCommands(words, commandStarts(words, false), depth);
  return split.map((w, i) => {
    const other = whole[i]!;
    if (w === other || other === words[i]) return w;
    return w === words[i] ? other : REDACTED;
  });
}

function redactCommands(words: readonly string[], starts: readonly number[], depth: number): string[] {
  const out = words.slice();
  if (out.length === 0) return out;
  starts.forEach((start, n) => {
    const end = starts[n + 1] ?? words.length;
    const program = programAt(words, start);
    const positional = positionalSecrets(words, program, end);
    out[start] = redactArg(words[start]!, depth);
    let pending: FlagRule | undefined;
    for (let i = start + 1; i < end; i++) {
      const w = words[i]!;
      if (pending) {
        const rule = pending;
        pending = undefined;
        // "--token --verbose": the next word is a long option, not a value (a value may start with one dash).
        if (!w.startsWith('--') || rule !== GENERIC) {
          out[i] = secretPart(w, rule.part);
          continue;
        }
      }
      const pos = positional.get(i);
      if (pos) {
        out[i] = pos(w);
        continue;
      }
      const own = program.flags[w];
      if (own?.separate) {
        pending = own;
        continue;
      }
      const attached = attachedFlag(w, program.flags);
      if (attached !== undefined) {
        out[i] = attached;
        continue;
      }
      const f = FLAG.exec(w);
      out[i] = redactArg(w, depth);
      if ((f && isSecretName(f[1]!)) || isSecretKeyWord(w)) {
        pending = GENERIC;
        if (!f && words[i + 1] === '=') i++;
        continue;
      }
      if (/^identified$/i.test(w) && /^by$/i.test(words[i + 1] ?? '')) {
        i++;
        pending = GENERIC_VALUE;
      }
    }
  });
  return out;
}

const GENERIC: FlagRule = { part: 'all', attached: false, separate: true };
/** A value that may look like a flag (SQL: IDENTIFIED BY '-x'). */
const GENERIC_VALUE: FlagRule = { part: 'all', attached: false, separate: true };

/** Redacts one argument list (as from /proc/<pid>/cmdline). */
export function redactArgs(args: readonly string[]): string[] {
  return redactWords(args, 0);
}

/** Joins and redacts a raw cmdline (NUL-separated), bounded to `max` characters. */
export function redactCmdline(raw: string, max = 512): string {
  const args = raw.split('\0');
  if (args.length && args[args.length - 1] === '') args.pop();
  let s = redactArgs(args).join(' ');
  if (s.length > max) s = `${s.slice(0, max - 1)}…`;
  return s;
}
