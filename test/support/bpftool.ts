// Ground truth about loaded programs, from bpftool rather than from our own code.
import { readdirSync, readFileSync } from 'node:fs';
import { sh } from './run.js';

export interface BpftoolProg {
  id: number;
  type: string;
  name?: string;
  run_time_ns?: number;
  run_cnt?: number;
}

export function loadedPrograms(): BpftoolProg[] {
  return JSON.parse(sh('bpftool', ['prog', 'show', '-j'])) as BpftoolProg[];
}

export function loadedProgramIds(): Set<number> {
  return new Set(loadedPrograms().map((p) => p.id));
}

/**
 * The programs a process holds, by the kernel's account: the prog_id of each of its program and
 * link descriptors (/proc/PID/fdinfo). Other agents on the node (other tests') load the same
 * programs at the same time; this tells ours apart.
 */
export function programIdsHeldBy(pid: number): Set<number> {
  const ids = new Set<number>();
  for (const fd of readdirSync(`/proc/${pid}/fdinfo`)) {
    let info: string;
    try {
      info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
    } catch {
      continue; // closed meanwhile
    }
    const m = /^prog_id:\s+(\d+)/m.exec(info);
    if (m) ids.add(Number(m[1]));
  }
  return ids;
}
