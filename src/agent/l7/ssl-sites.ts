// Where to put the OpenSSL probes of a file. A uprobe costs one breakpoint trap when the kernel can
// emulate the probed instruction (push of a register, a call or jump) and a second trap, a single
// step out of line, when it cannot. That second trap is the expensive part: measured on this VM,
// 10-23 µs per call on a function that begins with `sub $0x18,%rsp`, as Debian's SSL_read/SSL_write
// do, against ~1 µs on one that begins with `push` (bench/RESULTS.md, "TLS capture cost").
//
// Debian's SSL_read/SSL_read_ex (and the write pair) are thin wrappers around one internal function,
// ssl_read_internal(ssl, buf, num, size_t *readbytes) (ssl_write_internal), which begins with pushes
// and has the _ex calling convention. When the wrappers' entries are not emulated and both call the
// same internal function, that one function is probed: one emulated trap per call instead of two,
// and both API forms covered by one probe. Otherwise the API functions are probed by name.
export const SSL_FUNCTIONS = ['SSL_read', 'SSL_write', 'SSL_read_ex', 'SSL_write_ex'] as const;
export type SslFunction = (typeof SSL_FUNCTIONS)[number];

/** How the return is read: the int forms return the byte count, the _ex forms 1 and the count through their 4th argument. */
export type SslReturn = 'read' | 'read_ex' | 'write' | 'write_ex';

export interface SslSite {
  /** An exported function, by name; or a file offset (an internal function found through its callers). */
  target: { function: SslFunction } | { offset: number };
  returns: SslReturn;
  /** The API functions whose calls this probe sees. */
  covers: SslFunction[];
}

/** Reads `size` bytes of code at a virtual address: the bytes and their offset in the file. */
export type CodeReader = (addr: number, size: number) => { bytes: Uint8Array; fileOffset: number } | undefined;

/** Whether x86-64 uprobes emulate the instruction at the start of `b` (no single step): push of a register. */
export function entryEmulated(b: Uint8Array): boolean {
  if (b.length >= 1 && b[0]! >= 0x50 && b[0]! <= 0x57) return true; // push %rax..%rdi
  return b.length >= 2 && b[0] === 0x41 && b[1]! >= 0x50 && b[1]! <= 0x57; // push %r8..%r15
}

const WRAPPER_SCAN = 96;

/** The target of a `call rel32` at offset `i` of code that starts at `addr`. */
function callTarget(b: Uint8Array, addr: number, i: number): number | undefined {
  if (i + 5 > b.length || b[i] !== 0xe8) return undefined;
  const rel = (b[i + 1]! | (b[i + 2]! << 8) | (b[i + 3]! << 16) | (b[i + 4]! << 24)) >> 0;
  return addr + i + 5 + rel;
}

/**
 * The internal function an _ex wrapper calls first: `sub $imm8,%rsp; call f` (optionally after
 * endbr64), when the int form also calls f, and f's entry is emulated.
 */
function sharedInternal(code: CodeReader, api: number, ex: number): { offset: number } | undefined {
  const exCode = code(ex, 16);
  if (!exCode) return undefined;
  const b = exCode.bytes;
  const start = b[0] === 0xf3 && b[1] === 0x0f && b[2] === 0x1e && b[3] === 0xfa ? 4 : 0;
  if (b[start] !== 0x48 || b[start + 1] !== 0x83 || b[start + 2] !== 0xec) return undefined;
  const target = callTarget(b, ex, start + 4);
  if (target === undefined) return undefined;
  const apiCode = code(api, WRAPPER_SCAN);
  if (!apiCode) return undefined;
  let apiCalls = false;
  for (let i = 0; i < apiCode.bytes.length && !apiCalls; i++) apiCalls = callTarget(apiCode.bytes, api, i) === target;
  if (!apiCalls) return undefined;
  const t = code(target, 2);
  return t && entryEmulated(t.bytes) ? { offset: t.fileOffset } : undefined;
}

/** The probe sites of a file whose exported SSL functions are at these addresses (SSL_read and SSL_write present). */
export function planSslSites(functions: ReadonlyMap<string, number>, code: CodeReader): SslSite[] {
  const sites: SslSite[] = [];
  for (const [api, ex, dir] of [
    ['SSL_read', 'SSL_read_ex', 'read'],
    ['SSL_write', 'SSL_write_ex', 'write'],
  ] as const) {
    const apiAddr = functions.get(api);
    if (apiAddr === undefined) continue;
    const exAddr = functions.get(ex);
    const apiEntry = code(apiAddr, 2);
    const emulated = apiEntry !== undefined && entryEmulated(apiEntry.bytes);
    const internal = !emulated && exAddr !== undefined ? sharedInternal(code, apiAddr, exAddr) : undefined;
    if (internal) {
      sites.push({ target: internal, returns: `${dir}_ex`, covers: [api, ex] });
      continue;
    }
    sites.push({ target: { function: api }, returns: dir, covers: [api] });
    if (exAddr !== undefined) sites.push({ target: { function: ex }, returns: `${dir}_ex`, covers: [ex] });
  }
  return sites;
}
