import { repoPath } from '../../src/util/paths.js';

export const testObject = (name: string): string => repoPath('bpf/.output/test', `${name}.bpf.o`);
export const flowscopeBin = repoPath('bin/flowscope');
