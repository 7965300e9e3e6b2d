// Shared plumbing of the live tools (connlat, tcplife, top): open the TCP tracer, take its lifecycle
// events, run until interrupted or a count is reached.
import { TcpTracer } from '../agent/tcp/tracer.js';
import { Owners } from '../agent/identity/owners.js';
import { features } from '../bpf/index.js';
import { CgroupPaths } from '../lib/cgroups.js';
import type { ConnEvent } from '../model/connection.js';

export interface LiveSession {
  tracer: TcpTracer;
  owners: Owners;
  /** Resolves when the tool should stop (SIGINT, SIGTERM, or `stop()`). */
  done: Promise<void>;
  stop(): void;
}

/**
 * Opens the tracer; `onEvent` sees each lifecycle event (the object is reused: copy what you keep).
 * Once the hooks are attached it says so on stderr, as the libbpf-tools do, so that scripts know
 * from when on nothing is missed.
 */
export function openLive(what: string, onEvent: (ev: ConnEvent) => void): LiveSession {
  const owners = new Owners(new CgroupPaths(features.cgroup2Root()));
  const tracer = TcpTracer.open({ onEvent });
  process.stderr.write(`Tracing ${what}... Hit Ctrl-C to end.\n`);
  let stop!: () => void;
  const done = new Promise<void>((resolve) => (stop = resolve));
  const onSignal = (): void => stop();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  void done.then(() => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    tracer.close();
  });
  return { tracer, owners, done, stop };
}

/** Left-aligned columns of fixed widths, the last one free. */
export function columns(widths: number[], cells: Array<string | number>): string {
  return cells.map((c, i) => (i < widths.length ? String(c).padEnd(widths[i]!) : String(c))).join(' ').trimEnd();
}

export function rightAlign(width: number, v: string | number): string {
  return String(v).padStart(width);
}
