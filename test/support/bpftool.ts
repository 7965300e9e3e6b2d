// Ground truth about loaded programs, from bpftool rather than from our own code.
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
