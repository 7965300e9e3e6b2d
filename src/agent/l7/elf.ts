// Just enough ELF to find functions by name in an executable or library (.dynsym and .symtab) and
// to look for a string in its read-only data, reading only the sections needed.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

const SHT_SYMTAB = 2;
const SHT_DYNSYM = 11;
const STT_FUNC = 2;
const SHN_UNDEF = 0;
const MAX_TABLE = 256 << 20;

interface Section {
  name: string;
  type: number;
  flags: number;
  addr: number;
  offset: number;
  size: number;
  link: number;
  entsize: number;
}

export interface ElfFile {
  /** Of `wanted`, the functions defined in the file, and their addresses. */
  readonly functions: Map<string, number>;
  /** Whether the read-only data holds `needle` (only when asked). */
  readonly rodataHas: boolean | undefined;
}

function readAt(fd: number, offset: number, size: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  let got = 0;
  while (got < size) {
    const n = readSync(fd, b, got, size - got, offset + got);
    if (n <= 0) break;
    got += n;
  }
  return got === size ? b : b.subarray(0, got);
}

function sections(fd: number): Section[] | undefined {
  const h = readAt(fd, 0, 64);
  if (h.length < 64 || h.readUInt32BE(0) !== 0x7f454c46 || h[4] !== 2 || h[5] !== 1) return undefined; // 64-bit little-endian only
  const shoff = Number(h.readBigUInt64LE(0x28));
  const shentsize = h.readUInt16LE(0x3a);
  const shnum = h.readUInt16LE(0x3c);
  const shstrndx = h.readUInt16LE(0x3e);
  if (!shoff || shentsize < 64 || shnum === 0 || shnum > 65535) return undefined;
  const tbl = readAt(fd, shoff, shentsize * shnum);
  if (tbl.length < shentsize * shnum) return undefined;
  const raw = [];
  for (let i = 0; i < shnum; i++) {
    const o = i * shentsize;
    raw.push({
      nameOff: tbl.readUInt32LE(o),
      type: tbl.readUInt32LE(o + 4),
      flags: Number(tbl.readBigUInt64LE(o + 8)),
      addr: Number(tbl.readBigUInt64LE(o + 0x10)),
      offset: Number(tbl.readBigUInt64LE(o + 0x18)),
      size: Number(tbl.readBigUInt64LE(o + 0x20)),
      link: tbl.readUInt32LE(o + 0x28),
      entsize: Number(tbl.readBigUInt64LE(o + 0x38)),
    });
  }
  const strs = raw[shstrndx];
  const names = strs && strs.size < MAX_TABLE ? readAt(fd, strs.offset, strs.size) : Buffer.alloc(0);
  return raw.map((s) => {
    const end = names.indexOf(0, s.nameOff);
    return { name: names.toString('latin1', s.nameOff, end < 0 ? names.length : end), type: s.type, flags: s.flags, addr: s.addr, offset: s.offset, size: s.size, link: s.link, entsize: s.entsize };
  });
}

/** Reads a file's function symbols of interest (and optionally whether .rodata holds `needle`); undefined when not an ELF file we read. */
export function readElf(path: string, wanted: readonly string[], needle?: string): ElfFile | undefined {
  return withFile(path, (fd) => {
    if (!fstatSync(fd).isFile()) return undefined;
    const secs = sections(fd);
    if (!secs) return undefined;
    const functions = new Map<string, number>();
    const want = new Set(wanted);
    for (const s of secs) {
      if ((s.type !== SHT_DYNSYM && s.type !== SHT_SYMTAB) || s.entsize !== 24 || s.size > MAX_TABLE) continue;
      const strtab = secs[s.link];
      if (!strtab || strtab.size > MAX_TABLE) continue;
      const syms = readAt(fd, s.offset, s.size);
      const strs = readAt(fd, strtab.offset, strtab.size);
      for (let o = 0; o + 24 <= syms.length; o += 24) {
        const info = syms[o + 4]!;
        if ((info & 0xf) !== STT_FUNC || syms.readUInt16LE(o + 6) === SHN_UNDEF) continue;
        const nameOff = syms.readUInt32LE(o);
        // Cheap prefix test before decoding: every name of interest starts with "SSL_".
        if (strs[nameOff] !== 0x53 || strs[nameOff + 1] !== 0x53 || strs[nameOff + 2] !== 0x4c || strs[nameOff + 3] !== 0x5f) continue;
        const end = strs.indexOf(0, nameOff);
        const name = strs.toString('latin1', nameOff, end < 0 ? strs.length : end);
        if (want.has(name)) functions.set(name, Number(syms.readBigUInt64LE(o + 8)));
      }
    }
    let rodataHas: boolean | undefined;
    if (needle !== undefined) {
      const ro = secs.find((s) => s.name === '.rodata');
      rodataHas = ro ? sectionHas(fd, ro, Buffer.from(needle, 'latin1')) : false;
    }
    return { functions, rodataHas };
  });
}

const SHT_PROGBITS = 1;
const SHF_EXECINSTR = 4;

/** `size` bytes of code at virtual address `addr`, and their offset in the file (what a uprobe is attached at). */
export function readCode(path: string, addr: number, size: number): { bytes: Buffer; fileOffset: number } | undefined {
  return withFile(path, (fd) => {
    const s = sections(fd)?.find((x) => x.type === SHT_PROGBITS && (x.flags & SHF_EXECINSTR) !== 0 && addr >= x.addr && addr + size <= x.addr + x.size);
    if (!s) return undefined;
    const fileOffset = addr - s.addr + s.offset;
    const bytes = readAt(fd, fileOffset, size);
    return bytes.length === size ? { bytes, fileOffset } : undefined;
  });
}

/** Runs `read` on the file open for reading, closed after; undefined when it cannot be opened. */
function withFile<T>(path: string, read: (fd: number) => T | undefined): T | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  try {
    return read(fd);
  } finally {
    closeSync(fd);
  }
}

function sectionHas(fd: number, s: Section, needle: Buffer): boolean {
  const chunk = 1 << 20;
  for (let o = 0; o < s.size; o += chunk - needle.length) {
    const b = readAt(fd, s.offset + o, Math.min(chunk, s.size - o));
    if (b.includes(needle)) return true;
    if (b.length < chunk) break;
  }
  return false;
}
