// Renders the subset of Helm's template language the chart uses, so the chart is checked offline
// without helm: values ({{ .Values.x.y }}, .Release.Name/Namespace, .Chart.Name/AppVersion),
// variables ({{- $ca := genCA "x" 365 }}, $ca.Cert), parentheses, pipes, {{- if X }} … {{- end }},
// whitespace trimming with {{- and -}}, and these functions with Helm's meaning: quote, toYaml,
// nindent, indent, printf (%s %d), list, eq, ne, not, and, or, replace, randAlphaNum, htpasswd
// (bcrypt, as Helm writes it), genCA and genSignedCert (made with openssl). Anything else is an
// error, so the chart cannot drift into constructs this check does not understand.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomInt } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import bcrypt from 'bcryptjs';
import { sh } from '../support/run.js';

export interface HelmContext {
  Values: Record<string, unknown>;
  Release: { Name: string; Namespace: string };
  Chart: { Name: string; AppVersion: string };
}

interface Pem {
  Cert: string;
  Key: string;
}

type Value = unknown;

function field(v: Value, parts: string[], what: string, lenient: boolean): Value {
  for (const part of parts) {
    if (typeof v !== 'object' || v === null) {
      if (lenient) return undefined;
      throw new Error(`template: ${what} is not set`);
    }
    v = (v as Record<string, unknown>)[part];
  }
  if (v === undefined && !lenient) throw new Error(`template: ${what} is not set`);
  return v;
}

const truthy = (v: unknown): boolean => !(v === undefined || v === null || v === false || v === '' || v === 0 || (Array.isArray(v) && v.length === 0) || (typeof v === 'object' && v !== null && Object.keys(v).length === 0));

function text(v: Value): string {
  return v === null || v === undefined ? '' : String(v);
}

function withFiles<T>(body: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'flowscope-helm-'));
  try {
    return body(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function genCA(cn: string, days: number): Pem {
  return withFiles((dir) => {
    sh('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'k'), '-out', join(dir, 'c'), '-days', String(days), '-subj', `/CN=${cn}`]);
    return { Cert: readFileSync(join(dir, 'c'), 'utf8'), Key: readFileSync(join(dir, 'k'), 'utf8') };
  });
}

function genSignedCert(cn: string, ips: unknown, names: unknown, days: number, ca: Pem): Pem {
  return withFiles((dir) => {
    writeFileSync(join(dir, 'ca.crt'), ca.Cert);
    writeFileSync(join(dir, 'ca.key'), ca.Key);
    const sans = [...((ips as string[] | null) ?? []).map((i) => `IP:${i}`), ...((names as string[] | null) ?? []).map((n) => `DNS:${n}`)];
    writeFileSync(join(dir, 'ext'), `subjectAltName=${sans.join(',')}\nextendedKeyUsage=serverAuth,clientAuth\n`);
    sh('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'k'), '-out', join(dir, 'csr'), '-subj', `/CN=${cn}`]);
    sh('openssl', ['x509', '-req', '-in', join(dir, 'csr'), '-CA', join(dir, 'ca.crt'), '-CAkey', join(dir, 'ca.key'), '-CAcreateserial', '-out', join(dir, 'c'), '-days', String(days), '-extfile', join(dir, 'ext')]);
    return { Cert: readFileSync(join(dir, 'c'), 'utf8'), Key: readFileSync(join(dir, 'k'), 'utf8') };
  });
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

const FUNCTIONS: Record<string, (...args: Value[]) => Value> = {
  quote: (s) => JSON.stringify(text(s)),
  toYaml: (v) => YAML.stringify(v).trimEnd(),
  nindent: (n, s) => `\n${indentLines(text(s), Number(n))}`,
  indent: (n, s) => indentLines(text(s), Number(n)),
  printf: (fmt, ...args) => {
    let i = 0;
    return text(fmt).replace(/%[sd]/g, () => text(args[i++]));
  },
  list: (...items) => items,
  eq: (a, b) => a === b,
  ne: (a, b) => a !== b,
  not: (a) => !truthy(a),
  and: (...xs) => xs.every(truthy),
  or: (...xs) => xs.some(truthy),
  replace: (from, to, s) => text(s).split(text(from)).join(text(to)),
  randAlphaNum: (n) => Array.from({ length: Number(n) }, () => ALNUM[randomInt(ALNUM.length)]).join(''),
  htpasswd: (user, password) => `${text(user)}:${bcrypt.hashSync(text(password), 10)}`,
  genCA: (cn, days) => genCA(text(cn), Number(days)),
  genSignedCert: (cn, ips, names, days, ca) => genSignedCert(text(cn), ips, names, Number(days), ca as Pem),
};

function indentLines(s: string, n: number): string {
  const pad = ' '.repeat(n);
  return s
    .split('\n')
    .map((l) => pad + l)
    .join('\n');
}

/** Splits an expression into words, keeping quoted strings and parenthesised groups whole. */
function words(expr: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < expr.length) {
    if (/\s/.test(expr[i]!)) {
      i++;
      continue;
    }
    const start = i;
    if (expr[i] === '"') {
      i++;
      while (i < expr.length && expr[i] !== '"') i += expr[i] === '\\' ? 2 : 1;
      i++;
    } else if (expr[i] === '(') {
      let depth = 0;
      do {
        if (expr[i] === '(') depth++;
        else if (expr[i] === ')') depth--;
        else if (expr[i] === '"') {
          i++;
          while (i < expr.length && expr[i] !== '"') i += expr[i] === '\\' ? 2 : 1;
        }
        i++;
      } while (i < expr.length && depth > 0);
    } else {
      while (i < expr.length && !/[\s()]/.test(expr[i]!)) i++;
    }
    out.push(expr.slice(start, i));
  }
  return out;
}

/** Splits a pipeline at top-level `|`. */
function stages(expr: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < expr.length; i++) {
    const c = expr[i];
    if (quoted) {
      if (c === '\\') i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === '|' && depth === 0) {
      out.push(expr.slice(start, i).trim());
      start = i + 1;
    }
  }
  out.push(expr.slice(start).trim());
  return out;
}

class Evaluator {
  readonly vars = new Map<string, Value>();
  constructor(private readonly ctx: HelmContext) {}

  operand(w: string, lenient: boolean): Value {
    if (w.startsWith('"')) return JSON.parse(w) as string;
    if (w.startsWith('(')) return this.pipeline(w.slice(1, -1), lenient);
    if (/^-?\d+$/.test(w)) return Number(w);
    if (w === 'nil') return null;
    if (w === 'true' || w === 'false') return w === 'true';
    if (w.startsWith('$')) {
      const [name, ...parts] = w.split('.');
      if (!this.vars.has(name!)) throw new Error(`template: variable ${name} is not defined`);
      return field(this.vars.get(name!), parts, w, lenient);
    }
    if (w.startsWith('.')) return field(this.ctx, w.slice(1).split('.'), w, lenient);
    throw new Error(`template: unsupported value ${JSON.stringify(w)}`);
  }

  command(stage: string, piped: Value[], lenient: boolean): Value {
    const ws = words(stage);
    const head = ws[0]!;
    if (/^[A-Za-z]\w*$/.test(head) && !['nil', 'true', 'false'].includes(head)) {
      const fn = FUNCTIONS[head];
      if (!fn) throw new Error(`template: unsupported function ${JSON.stringify(head)}`);
      return fn(...ws.slice(1).map((w) => this.operand(w, lenient)), ...piped);
    }
    if (ws.length !== 1 || piped.length) throw new Error(`template: unsupported expression ${JSON.stringify(stage)}`);
    return this.operand(head, lenient);
  }

  pipeline(expr: string, lenient = false): Value {
    let value: Value;
    stages(expr).forEach((st, i) => {
      value = this.command(st, i === 0 ? [] : [value], lenient);
    });
    return value;
  }
}

export function renderTemplate(src: string, ctx: HelmContext): string {
  const re = /\{\{(-?)\s*(.*?)\s*(-?)\}\}/gs;
  const ev = new Evaluator(ctx);
  const out: string[] = [];
  const stack: boolean[] = []; // emitting?
  const emitting = (): boolean => stack.every(Boolean);
  let last = 0;
  let trimNext = false;
  for (let m = re.exec(src); m; m = re.exec(src)) {
    let chunk = src.slice(last, m.index);
    if (trimNext) chunk = chunk.replace(/^\s+/, '');
    if (m[1] === '-') chunk = chunk.replace(/\s+$/, '');
    if (emitting()) out.push(chunk);
    trimNext = m[3] === '-';
    last = m.index + m[0].length;
    const action = m[2]!;
    const ifm = /^if\s+(.+)$/.exec(action);
    const assign = /^(\$\w+)\s*:=\s*(.+)$/.exec(action);
    if (action.startsWith('/*')) continue;
    if (ifm) stack.push(emitting() && truthy(ev.pipeline(ifm[1]!.trim(), true)));
    else if (action === 'end') {
      if (stack.length === 0) throw new Error('template: {{ end }} without {{ if }}');
      stack.pop();
    } else if (/^(else|range|with|define|include|template|block)\b/.test(action)) throw new Error(`template: unsupported action ${JSON.stringify(action)}`);
    else if (assign) {
      if (emitting()) ev.vars.set(assign[1]!, ev.pipeline(assign[2]!));
    } else if (emitting()) out.push(text(ev.pipeline(action)));
  }
  if (stack.length) throw new Error('template: {{ if }} without {{ end }}');
  let tail = src.slice(last);
  if (trimNext) tail = tail.replace(/^\s+/, '');
  out.push(tail);
  return out.join('');
}
