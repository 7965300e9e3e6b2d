// What the kernel's BPF syscall supports, as libbpf's probes tell (for `flowscope doctor`).
import { native } from './native.js';

/** errno of a trivial bpf() call (0: the syscall works for this process). */
export function bpfSyscallErrno(): number {
  return native().bpfSyscallErrno();
}

/** libbpf's names of program types and map types, indexed by type number. */
export function programTypeNames(): string[] {
  return native().progTypeNames();
}

export function mapTypeNames(): string[] {
  return native().mapTypeNames();
}

/** Whether the kernel loads a program (map) of this type: 1 yes, 0 no, negative errno on error. */
export function probeProgramType(type: number): number {
  return native().probeProgType(type);
}

export function probeMapType(type: number): number {
  return native().probeMapType(type);
}
