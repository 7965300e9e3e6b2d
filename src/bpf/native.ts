// Loads the Node-API addon and describes its surface. Only src/bpf/ talks to it.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { repoPath } from '../lib/paths.js';
import { BpfError, VerifierError } from './errors.js';

export interface NativeProgramInfo {
  name: string;
  section: string;
  type: number;
  typeName: string;
  attachType: number;
  attachTypeName: string;
  autoload: boolean;
  fd: number;
}

export interface NativeMapInfo {
  name: string;
  type: number;
  typeName: string;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  internal: boolean;
  btfKeyTypeId: number;
  btfValueTypeId: number;
  fd: number;
}

export interface NativeGlobalInfo {
  name: string;
  section: string;
  offset: number;
  size: number;
}

export interface NativeLink {
  destroy(): void;
  readonly fd: number;
  readonly description: string;
  readonly tcPriority: number;
  readonly tcHandle: number;
}

export interface NativeObject {
  programs(): NativeProgramInfo[];
  maps(): NativeMapInfo[];
  globals(): NativeGlobalInfo[];
  setGlobal(name: string, value: Buffer): void;
  setAutoload(program: string, autoload: boolean): void;
  setMaxEntries(map: string, maxEntries: number): void;
  load(): void;
  attachAuto(program: string): NativeLink;
  attachTracepoint(program: string, category: string, name: string): NativeLink;
  attachRawTracepoint(program: string, name: string): NativeLink;
  attachTrace(program: string): NativeLink;
  attachKprobe(program: string, fn: string, retprobe: boolean): NativeLink;
  attachUprobe(program: string, binaryPath: string, fn: string | null, offset: number, pid: number, retprobe: boolean): NativeLink;
  attachCgroup(program: string, cgroupPath: string): NativeLink;
  attachTcx(program: string, ifindex: number, ingress: boolean, first: boolean, netnsPath?: string): NativeLink;
  attachSocketFilter(program: string, ifindex: number): NativeLink;
  attachTcLegacy(program: string, ifindex: number, ingress: boolean, priority: number, handle: number, netnsPath?: string): NativeLink;
  attachIter(program: string): NativeLink;
  reuseMap(map: string, pinPath: string): void;
  pinMap(map: string, pinPath: string): void;
  close(): void;
}

export interface NativeRingBufStats {
  records: number;
  bytes: number;
  batches: number;
  dropped: number;
  waits: number;
  pending: number;
}

export interface NativeRingBufOptions {
  maxBatchBytes?: number;
  maxPendingBatches?: number;
  pollTimeoutMs?: number;
  dropWhenFull?: boolean;
}

export interface NativeRingBuf {
  ack(): void;
  stats(): NativeRingBufStats;
  flush(): void;
  ref(): void;
  unref(): void;
  close(): void;
}

export interface NativeLinkWatcherOptions {
  rcvbufBytes?: number;
  maxBatchBytes?: number;
  maxPendingBatches?: number;
  /** The link events of this network namespace (e.g. /run/netns/NAME) instead of ours. */
  netnsPath?: string;
}

/** Link events of this network namespace as raw netlink messages (native/netlink.cc). */
export interface NativeLinkWatcher {
  /** The messages of the dump read at start-up (once). */
  takeInitial(): Buffer;
  /** Requests another link dump (one at a time); its replies come through onBatch. Returns its sequence number. */
  dump(): number;
  ack(): void;
  stats(): { batches: number; bytes: number; overruns: number };
  close(): void;
}

/** Entries written into the caller's buffers; done = false when there was no room for the rest. */
export interface BulkResult {
  count: number;
  done: boolean;
}

export interface NativeMapOps {
  lookup(fd: number, key: Buffer, value: Buffer): boolean;
  lookupAndDelete(fd: number, key: Buffer, value: Buffer): boolean;
  update(fd: number, key: Buffer, value: Buffer, flags?: number): void;
  delete(fd: number, key: Buffer): boolean;
  /** Deletes `count` keys packed in `keys` in one call; returns how many were there to delete. */
  deleteMany(fd: number, keys: Buffer, keySize: number, count: number): number;
  nextKey(fd: number, key: Buffer | null, next: Buffer): boolean;
  iterate(fd: number, keys: Buffer, values: Buffer, keySize: number, valueStride: number, drain: boolean): BulkResult;
  readMapped(fd: number, byteOffset: number, into: Buffer): number;
  lookupBatch(fd: number, keys: Buffer, values: Buffer, keySize: number, valueStride: number, drain: boolean): BulkResult;
  info(fd: number): { id: number; name: string; type: number; keySize: number; valueSize: number; maxEntries: number; flags: number };
}

export interface NativeProgStats {
  id: number;
  name: string;
  type: number;
  runTimeNs: number;
  runCount: number;
  recursionMisses: number;
  verifiedInstructions: number;
  xlatedBytes: number;
  jitedBytes: number;
}

export interface NativeAddon {
  setErrorClasses(classes: { BpfError: unknown; VerifierError: unknown }): void;
  /** Returns freed C heap to the system (malloc_trim); true when memory was released. */
  trimMemory(): boolean;
  NativeObject: new (source: string | Buffer, name?: string) => NativeObject;
  NativeRingBuf: new (
    mapFd: number,
    onBatch: (batch: Buffer | null, recordsOrErrno: number) => void,
    options: NativeRingBufOptions,
  ) => NativeRingBuf;
  /** onBatch(messages, 0), or (null, ENOBUFS) after an overrun, or (null, errno) when the thread stopped. */
  NativeLinkWatcher: new (onBatch: (batch: Buffer | null, errno: number) => void, options: NativeLinkWatcherOptions) => NativeLinkWatcher;
  map: NativeMapOps;
  probeProgType(type: number): number;
  probeMapType(type: number): number;
  probeHelper(progType: number, helper: number): number;
  progTypeNames(): string[];
  mapTypeNames(): string[];
  attachTypeNames(): string[];
  progInfo(fd: number): NativeProgStats;
  enableStats(): number;
  closeFd(fd: number): void;
  numPossibleCpus(): number;
  bpfSyscallErrno(): number;
  testRun(progFd: number, options?: { ctx?: Buffer; data?: Buffer; repeat?: number; cpu?: number }): { retval: number; durationNs: number };
  /** Runs a BPF iterator of link `linkFd` to its end (made inside `netnsPath` when given); its output when `keep`. */
  iterRead(linkFd: number, netnsPath: string | null, keep: boolean): Buffer;
}

let addon: NativeAddon | undefined;

/** The addon, loaded on first use so that commands which need no BPF (help, --version) work without it. */
export function native(): NativeAddon {
  if (addon) return addon;
  const path = process.env.FLOWSCOPE_ADDON ?? repoPath('build/flowscope.node');
  if (!existsSync(path)) {
    throw new Error(`the native addon is not built (${path} is missing): run \`make\` in the repository, or scripts/setup.sh`);
  }
  const require = createRequire(import.meta.url);
  addon = require(path) as NativeAddon;
  addon.setErrorClasses({ BpfError, VerifierError });
  return addon;
}

/** Returns C heap freed by libbpf (kernel BTF parsed while loading) to the system. */
export function trimNativeHeap(): boolean {
  return native().trimMemory();
}
