// Interfaces of this process's network namespace, as /proc tells.
import { readFileSync } from 'node:fs';

/** The interface names of this process's network namespace ([] when unreadable). */
export function devNames(): string[] {
  try {
    return readFileSync('/proc/self/net/dev', 'utf8')
      .split('\n')
      .slice(2)
      .map((l) => l.split(':')[0]!.trim())
      .filter(Boolean);
  } catch {
    return [];
  }
}
