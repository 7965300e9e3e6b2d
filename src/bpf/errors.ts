// Typed errors of the BPF runtime. Every message says what went wrong and what to do about it.
import { constants } from 'node:os';

const errnoNames = new Map<number, string>(
  Object.entries(constants.errno).map(([name, value]) => [value, name]),
);
errnoNames.set(524, 'ENOTSUPP'); // kernel-internal "operation not supported", leaks out of the BPF syscall

export function errnoName(errno: number): string {
  return errnoNames.get(errno) ?? `E${errno}`;
}

function hintFor(op: string, errno: number): string {
  switch (errnoName(errno)) {
    case 'EPERM':
    case 'EACCES':
      return 'run as root (or grant CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN and CAP_SYS_RESOURCE)';
    case 'ENOENT':
      return /attach tracepoint|attach raw_tp/.test(op)
        ? 'this kernel has no such tracepoint: check `flowscope doctor`'
        : '';
    case 'E2BIG':
      return /update/.test(op) ? 'the map is full: raise its max_entries' : '';
    case 'ENOTSUPP':
    case 'EOPNOTSUPP':
    case 'EINVAL':
      return /attach/.test(op) ? 'this kernel may not support this attach type: see `flowscope doctor`' : '';
    default:
      return '';
  }
}

/** A failed BPF operation, with the errno the kernel or libbpf gave. */
export class BpfError extends Error {
  override name = 'BpfError';
  readonly op: string;
  readonly errno: number;
  readonly code: string;

  constructor(message: string, op: string, errno: number) {
    const hint = hintFor(op, errno);
    super(hint ? `${message}\nhint: ${hint}` : message);
    this.op = op;
    this.errno = errno;
    this.code = errnoName(errno);
  }
}

/** The verifier rejected a program; `log` is the verifier's own log. */
export class VerifierError extends Error {
  override name = 'VerifierError';
  readonly program: string;
  readonly log: string;
  readonly reason: string;

  constructor(message: string, program: string, log: string) {
    const reason = verifierReason(log);
    super(`${message}: the verifier rejected program '${program}': ${reason}\n` +
      'fix the program (the full verifier log is in error.log)');
    this.program = program;
    this.log = log;
    this.reason = reason;
  }
}

/** The verifier's reason is the last line of its log that is not a statistic or a trace line. */
export function verifierReason(log: string): string {
  const lines = log.split('\n').map((l) => l.trim()).filter(Boolean);
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i]!;
    if (/^(processed \d+ insns|verification time|stack depth|max_states_per_insn|peak_states|mark_read)/.test(line)) continue;
    if (/^\d+: \(/.test(line) || /^;/.test(line) || /^\d+: R\d/.test(line) || /^from \d+ to \d+/.test(line)) continue;
    return line;
  }
  return lines[lines.length - 1] ?? 'no verifier log';
}

/** A feature this kernel or build lacks; `hint` says how to get it. */
export class NotSupportedError extends Error {
  override name = 'NotSupportedError';
  readonly feature: string;
  readonly hint: string;

  constructor(feature: string, hint: string) {
    super(`${feature} is not supported here: ${hint}`);
    this.feature = feature;
    this.hint = hint;
  }
}

/** A map's key or value size differs from the decoder generated for it. */
export class LayoutMismatchError extends BpfError {
  override name = 'LayoutMismatchError';
  constructor(message: string) {
    super(message, 'check map layout', constants.errno.EINVAL);
  }
}
