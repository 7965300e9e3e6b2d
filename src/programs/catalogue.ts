// The custom programs' own metrics (about each program set), declared in one place. The program
// sets' maps become metrics the users declare in their YAML (metrics.ts); BPF run times use the
// shared flowscope_bpf_* names (lib/metrics.ts) with component="program".
import type { MetricDef } from '../lib/exposition.js';

export const PROGRAM_METRICS = {
  up: { name: 'flowscope_program_up', type: 'gauge', help: 'Whether the program set is loaded and attached (1) or failed (0; /capabilities gives the reason).' },
  startFailures: { name: 'flowscope_program_start_failures_total', type: 'counter', help: 'Times a program set failed to start, by stage (open, metrics, load, attach).' },
  keysDropped: { name: 'flowscope_program_keys_dropped_total', type: 'counter', help: 'Map keys left out of a metric because a decoder dropped them (static_map without the value, regexp without a match).' },
  readErrors: { name: 'flowscope_program_read_errors_total', type: 'counter', help: 'Map reads or renders that failed during a scrape.' },
  mapEntries: { name: 'flowscope_program_map_entries', type: 'gauge', help: 'Entries in each exported map at the last scrape.' },
  renderSeconds: { name: 'flowscope_program_render_seconds', type: 'gauge', help: "Time the last scrape spent reading and rendering the program set's maps." },
} as const satisfies Record<string, MetricDef>;
