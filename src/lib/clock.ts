// Kernel timestamps (bpf_ktime_get_ns: CLOCK_MONOTONIC) to wall-clock time.
// process.hrtime reads CLOCK_MONOTONIC too (libuv's uv_hrtime).
const offsetMs = Date.now() - Number(process.hrtime.bigint()) / 1e6;

export function monotonicToEpochMs(ns: number): number {
  return offsetMs + ns / 1e6;
}

export function monotonicNowNs(): number {
  return Number(process.hrtime.bigint());
}

/** A period in time (not in intervals): `due()` is true once per period, whatever the interval. */
export class Every {
  private nextMs: number;

  constructor(
    readonly periodMs: number,
    nowMs = Date.now(),
  ) {
    this.nextMs = nowMs + periodMs;
  }

  due(nowMs = Date.now()): boolean {
    if (nowMs < this.nextMs) return false;
    this.nextMs = nowMs + this.periodMs;
    return true;
  }
}
