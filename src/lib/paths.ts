import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

// Compiled files live in dist/src/util/: the repository root is three levels up.
const root = fileURLToPath(new URL('../../../', import.meta.url));

/** Absolute path of a file in the repository (build outputs, BPF objects, fixtures). */
export function repoPath(...parts: string[]): string {
  return join(root, ...parts);
}
