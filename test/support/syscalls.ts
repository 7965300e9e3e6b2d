import { machine } from 'node:os';

/** getppid's syscall number on this architecture (asm/unistd_64.h; asm-generic for arm64). */
export function getppidNr(): number {
  switch (machine()) {
    case 'x86_64':
      return 110;
    case 'aarch64':
    case 'arm64':
      return 173;
    default:
      throw new Error(`getppid syscall number unknown for ${machine()}`);
  }
}

/** Calls getppid(2) n times (Node's process.ppid is a live getter over getppid). */
export function callGetppid(n: number): void {
  for (let i = 0; i < n; i++) void process.ppid;
}
