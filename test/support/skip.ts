// Tests skip only when a feature is truly absent on this machine, and say why.
import type { TestContext } from 'node:test';

/** Skips the test with `reason` unless `present`; returns whether the test should go on. */
export function requireFeature(t: TestContext, present: boolean, reason: string): boolean {
  if (!present) t.skip(reason);
  return present;
}
