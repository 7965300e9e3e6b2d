import { repoPath } from '../../src/lib/paths.js';

export const testObject = (name: string): string => repoPath('bpf/.output/test', `${name}.bpf.o`);
export const flowscopeBin = repoPath('bin/flowscope');
