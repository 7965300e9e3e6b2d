// The custom programs' own metrics (about each program set), declared in one place (metrics.json).
// The program sets' maps become metrics the users declare in their YAML (metrics.ts); BPF run times
// use the shared flowscope_bpf_* names (lib/metrics.ts) with component="program".
import { catalogue } from '../lib/exposition.js';
import json from './metrics.json' with { type: 'json' };

export const PROGRAM_METRICS = catalogue(json).programs;
