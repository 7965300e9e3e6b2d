// Agent runs: one per agent start. A run remembers which intervals (seq) it has applied, so that
// a resend after a lost answer changes nothing, and how far its reports reach (the join waits for
// the other agents to reach an interval before it names its peers).
import type { wire } from '../../model/index.js';
import type { HelloIn } from './schema.js';

export interface RunState {
  agent: string;
  node: string;
  zone: string;
  start: string;
  version: string;
  intervalMs: number;
  capabilities: object;
  /** Every seq up to this one is applied. */
  contiguous: number;
  /** Applied seqs above `contiguous` (out of order). */
  above: number[];
  /** When its latest batch arrived, ms. */
  lastHeardMs: number;
  /** The end of its latest interval, ms. */
  lastTo: number;
  batches: number;
  losses?: wire.LossesV1;
}

/** Applied seqs kept above a gap before the gap is given up. */
const MAX_GAP_SEQS = 1000;

export const runKey = (agent: string, start: string): string => `${agent}\u0000${start}`;

export class RunRegistry {
  private readonly runs = new Map<string, RunState>();
  /** The newest run of each agent. */
  private readonly latest = new Map<string, RunState>();

  get(agent: string, start: string): RunState | undefined {
    return this.runs.get(runKey(agent, start));
  }

  hello(h: HelloIn, nowMs: number): RunState {
    const key = runKey(h.run.agent, h.run.start);
    let run = this.runs.get(key);
    if (run) {
      run.zone = h.zone;
      run.version = h.version;
      run.intervalMs = h.interval_ms;
      run.capabilities = h.capabilities;
      run.lastHeardMs = nowMs;
    } else {
      run = {
        agent: h.run.agent,
        node: h.run.node,
        zone: h.zone,
        start: h.run.start,
        version: h.version,
        intervalMs: h.interval_ms,
        capabilities: h.capabilities,
        contiguous: 0,
        above: [],
        lastHeardMs: nowMs,
        lastTo: Date.parse(h.run.start),
        batches: 0,
      };
      this.add(run);
    }
    return run;
  }

  private add(run: RunState): void {
    this.runs.set(runKey(run.agent, run.start), run);
    const cur = this.latest.get(run.agent);
    if (!cur || Date.parse(cur.start) <= Date.parse(run.start)) this.latest.set(run.agent, run);
  }

  /** Marks a seq applied; false when it was already. */
  apply(run: RunState, seq: number): boolean {
    if (seq <= run.contiguous || run.above.includes(seq)) return false;
    run.above.push(seq);
    run.above.sort((a, b) => a - b);
    // Agents send in order, so a gap that stays is intervals the agent dropped (its buffer was full):
    // past a bound, the gap is closed (those seqs will not come; if they did, they would be refused).
    if (run.above.length > MAX_GAP_SEQS) run.contiguous = run.above[0]! - 1;
    while (run.above.length && run.above[0] === run.contiguous + 1) run.contiguous = run.above.shift()!;
    return true;
  }

  /** The newest run of every agent. */
  current(): RunState[] {
    return [...this.latest.values()];
  }

  all(): RunState[] {
    return [...this.runs.values()];
  }

  /** Forgets runs superseded by a newer start of the same agent and silent for `idleMs`. */
  prune(nowMs: number, idleMs: number): RunState[] {
    const gone: RunState[] = [];
    for (const [key, run] of this.runs) {
      if (this.latest.get(run.agent) !== run && nowMs - run.lastHeardMs > idleMs) {
        this.runs.delete(key);
        gone.push(run);
      }
    }
    return gone;
  }

  static serialize(run: RunState): string {
    return JSON.stringify(run);
  }

  restore(body: string): void {
    this.add(JSON.parse(body) as RunState);
  }
}
