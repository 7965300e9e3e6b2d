// The L7 switch: capture on or off per namespace, workload or cgroup. Rules are read in order, the
// last that matches wins (`--l7 off:namespace=kube-system --l7 on:workload=checkout`); what no rule
// matches follows the default. The kernel reads the outcome per cgroup when a connection first
// carries data.

export interface L7Rule {
  on: boolean;
  namespace?: string;
  workload?: string;
  /** cgroup path; a trailing '*' matches a prefix. */
  cgroup?: string;
}

export interface CgroupWorkload {
  namespace?: string;
  workload?: string;
}

const KEYS = new Set(['namespace', 'workload', 'cgroup']);

/** Parses "on:namespace=x,workload=y" / "off:cgroup=/system.slice/*" / "off" (the default). */
export function parseL7Rule(spec: string): L7Rule | 'on' | 'off' {
  const m = /^(on|off)(?::(.*))?$/.exec(spec.trim());
  if (!m) throw new Error(`--l7 '${spec}': expected on|off[:namespace=NS,workload=NAME,cgroup=PATH]`);
  const on = m[1] === 'on';
  if (!m[2]) return on ? 'on' : 'off';
  const rule: L7Rule = { on };
  for (const part of m[2].split(',').map((s) => s.trim()).filter(Boolean)) {
    const eq = part.indexOf('=');
    const key = part.slice(0, eq);
    const value = part.slice(eq + 1);
    if (eq <= 0 || !KEYS.has(key) || value === '') {
      throw new Error(`--l7 '${spec}': '${part}' is not one of namespace=NS, workload=NAME, cgroup=PATH`);
    }
    (rule as unknown as Record<string, string>)[key] = value;
  }
  return rule;
}

export class L7Switch {
  readonly defaultOn: boolean;
  readonly rules: readonly L7Rule[];

  constructor(specs: readonly string[]) {
    let defaultOn = true;
    const rules: L7Rule[] = [];
    for (const s of specs) {
      const r = parseL7Rule(s);
      if (r === 'on' || r === 'off') defaultOn = r === 'on';
      else rules.push(r);
    }
    this.defaultOn = defaultOn;
    this.rules = rules;
  }

  /** Whether connections of this cgroup are captured. */
  decide(cgroupPath: string, w: CgroupWorkload | undefined): boolean {
    let on = this.defaultOn;
    for (const r of this.rules) if (matches(r, cgroupPath, w)) on = r.on;
    return on;
  }
}

function matches(r: L7Rule, path: string, w: CgroupWorkload | undefined): boolean {
  if (r.cgroup !== undefined && !(r.cgroup.endsWith('*') ? path.startsWith(r.cgroup.slice(0, -1)) : path === r.cgroup)) return false;
  if (r.namespace !== undefined && w?.namespace !== r.namespace) return false;
  if (r.workload !== undefined && w?.workload !== r.workload) return false;
  return true;
}
