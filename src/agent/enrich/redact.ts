// Secrets out of command lines: values of arguments and environment-style tokens whose name looks
// like a password, token or key, and passwords in URLs, are replaced before anything is stored.
export const REDACTED = '<redacted>';

/** Names that hold secrets: matched on word boundaries of a flag or variable name (--db-password, API_KEY). */
const SECRET_NAME = /(^|[-_.])(pass(word|wd|phrase)?|pwd|secret|token|api[-_]?key|apikey|access[-_]?key|private[-_]?key|key|credentials?|auth|session|cookie|signature)s?($|[-_.])/i;
/** name=value or --name=value (value may be empty). */
const ASSIGNMENT = /^(-{0,2})([A-Za-z_][\w.-]*)=(.*)$/s;
/** A flag alone: its value is the next argument. */
const FLAG = /^-{1,2}([A-Za-z][\w.-]*)$/;
/** user:password@ inside URLs (scheme://user:pass@host). */
const URL_USERINFO = /([a-z][a-z0-9+.-]*:\/\/[^/\s:@]*):[^/\s@]*@/gi;

export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name);
}

/** Redacts one argument list (as from /proc/<pid>/cmdline). */
export function redactArgs(args: readonly string[]): string[] {
  const out: string[] = [];
  let redactNext = false;
  for (const arg of args) {
    if (redactNext) {
      redactNext = false;
      // "--password --other" : the next token is a flag, not a value.
      if (!arg.startsWith('-') || arg === '-') {
        out.push(REDACTED);
        continue;
      }
    }
    const a = ASSIGNMENT.exec(arg);
    if (a) {
      out.push(isSecretName(a[2]!) ? `${a[1]}${a[2]}=${REDACTED}` : arg.replace(URL_USERINFO, `$1:${REDACTED}@`));
      continue;
    }
    const f = FLAG.exec(arg);
    if (f && isSecretName(f[1]!)) {
      redactNext = true;
      out.push(arg);
      continue;
    }
    out.push(arg.replace(URL_USERINFO, `$1:${REDACTED}@`));
  }
  return out;
}

/** Joins and redacts a raw cmdline (NUL-separated), bounded to `max` characters. */
export function redactCmdline(raw: string, max = 512): string {
  const args = raw.split('\0');
  if (args.length && args[args.length - 1] === '') args.pop();
  let s = redactArgs(args).join(' ');
  if (s.length > max) s = `${s.slice(0, max - 1)}…`;
  return s;
}
