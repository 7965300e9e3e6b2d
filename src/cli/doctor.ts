// `flowscope doctor`: what this node can do, and the exact fix for what it cannot.
import type { Command } from 'commander';
import { buildReport, type DoctorReport } from '../doctor/report.js';

function render(r: DoctorReport): string {
  const out: string[] = [];
  out.push(`flowscope doctor: node ${r.node}, kernel ${r.kernel.release} (${r.kernel.arch})`, '');
  const width = Math.max(...r.checks.map((c) => c.title.length));
  for (const c of r.checks) {
    const status = c.status === 'ok' ? 'ok' : c.status === 'untested' ? 'untested' : c.required ? 'MISSING' : 'missing';
    out.push(`  ${status.padEnd(8)}  ${c.title.padEnd(width)}  ${c.detail}`);
    if (c.status === 'missing' && c.fix) out.push(`  ${' '.repeat(8)}  ${' '.repeat(width)}  fix: ${c.fix}${c.required ? '' : ' (optional)'}`);
  }
  const summarize = (what: string, types: Record<string, boolean>): string => {
    const names = Object.keys(types);
    const missing = names.filter((n) => !types[n]);
    return `  ${what}: ${names.length - missing.length} of ${names.length} supported${missing.length ? ` (missing: ${missing.join(', ')})` : ''}`;
  };
  out.push('');
  if (Object.keys(r.programTypes).length) out.push(summarize('program types', r.programTypes), summarize('map types', r.mapTypes), '');
  if (r.canRunAgent) {
    out.push(`verdict: the agent can run here (TCP lifecycle via ${r.agentHooks.lifecycle}, sockops on the cgroup v2 root)`);
  } else {
    out.push('verdict: the agent cannot run here:');
    for (const reason of r.reasons) out.push(`  - ${reason}`);
  }
  return out.join('\n');
}

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('report what this node can do (kernel, BTF, program and map types, attach types tried for real) and how to fix what is missing')
    .option('--json', 'print the report as JSON')
    .action((opts: { json?: boolean }) => {
      const report = buildReport();
      process.stdout.write(`${opts.json ? JSON.stringify(report, null, 2) : render(report)}\n`);
      process.exitCode = report.canRunAgent ? 0 : 1;
    });
}
