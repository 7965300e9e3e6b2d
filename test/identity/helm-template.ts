// Renders the subset of Helm's template language the chart uses, so the chart is checked offline
// without helm: {{ .Values.x.y }}, {{ .Release.Name }}, {{ .Release.Namespace }}, {{ .Chart.Name }},
// {{ .Chart.AppVersion }}, the pipes `quote` and `toYaml X | nindent N`, {{- if X }} … {{- end }},
// and whitespace trimming with {{- and -}}. Anything else is an error, so the chart cannot drift
// into constructs this check does not understand.
import YAML from 'yaml';

export interface HelmContext {
  Values: Record<string, unknown>;
  Release: { Name: string; Namespace: string };
  Chart: { Name: string; AppVersion: string };
}

function lookup(ctx: HelmContext, path: string): unknown {
  if (!path.startsWith('.')) throw new Error(`template: unsupported value ${JSON.stringify(path)}`);
  let v: unknown = ctx;
  for (const part of path.slice(1).split('.')) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

function evalPipeline(ctx: HelmContext, expr: string): string {
  const stages = expr.split('|').map((s) => s.trim());
  const first = stages.shift()!;
  let value: unknown;
  let text: string;
  const toYaml = /^toYaml\s+(\S+)$/.exec(first);
  if (toYaml) {
    value = lookup(ctx, toYaml[1]!);
    text = YAML.stringify(value).trimEnd();
  } else {
    value = lookup(ctx, first);
    if (value === undefined) throw new Error(`template: ${first} is not set`);
    text = String(value);
  }
  for (const st of stages) {
    const nindent = /^nindent\s+(\d+)$/.exec(st);
    if (st === 'quote') text = JSON.stringify(text);
    else if (nindent) {
      const pad = ' '.repeat(Number(nindent[1]));
      text = `\n${text
        .split('\n')
        .map((l) => pad + l)
        .join('\n')}`;
    } else throw new Error(`template: unsupported function ${JSON.stringify(st)}`);
  }
  return text;
}

const truthy = (v: unknown): boolean => !(v === undefined || v === null || v === false || v === '' || v === 0 || (Array.isArray(v) && v.length === 0) || (typeof v === 'object' && v !== null && Object.keys(v).length === 0));

export function renderTemplate(src: string, ctx: HelmContext): string {
  const re = /\{\{(-?)\s*(.*?)\s*(-?)\}\}/gs;
  const out: string[] = [];
  const stack: boolean[] = []; // emitting?
  const emitting = (): boolean => stack.every(Boolean);
  let last = 0;
  let trimNext = false;
  for (let m = re.exec(src); m; m = re.exec(src)) {
    let text = src.slice(last, m.index);
    if (trimNext) text = text.replace(/^\s+/, '');
    if (m[1] === '-') text = text.replace(/\s+$/, '');
    if (emitting()) out.push(text);
    trimNext = m[3] === '-';
    last = m.index + m[0].length;
    const action = m[2]!;
    const ifm = /^if\s+(.+)$/.exec(action);
    if (ifm) stack.push(truthy(lookup(ctx, ifm[1]!.trim())));
    else if (action === 'end') {
      if (stack.length === 0) throw new Error('template: {{ end }} without {{ if }}');
      stack.pop();
    } else if (/^(else|range|with|define|include|template)\b/.test(action)) throw new Error(`template: unsupported action ${JSON.stringify(action)}`);
    else if (emitting()) out.push(evalPipeline(ctx, action));
  }
  if (stack.length) throw new Error('template: {{ if }} without {{ end }}');
  let tail = src.slice(last);
  if (trimNext) tail = tail.replace(/^\s+/, '');
  out.push(tail);
  return out.join('');
}
