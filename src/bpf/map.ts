// MapReader: typed access to one BPF map, with whole-map reads that cross the native boundary once.
import { native, type BulkResult, type NativeMapInfo } from './native.js';
import { BpfError, errnoName } from './errors.js';
import { type Codec, viewOf } from './codec.js';

// Kernel enum bpf_map_type values (uapi, stable).
export const MapType = {
  hash: 1,
  array: 2,
  percpuHash: 5,
  percpuArray: 6,
  lruHash: 9,
  lruPercpuHash: 10,
  percpuCgroupStorage: 21,
  ringbuf: 27,
} as const;

const PER_CPU_TYPES = new Set<number>([MapType.percpuHash, MapType.percpuArray, MapType.lruPercpuHash, MapType.percpuCgroupStorage]);
const ARRAY_TYPES = new Set<number>([MapType.array, MapType.percpuArray]);

let possibleCpus: number | undefined;
export function numPossibleCpus(): number {
  possibleCpus ??= native().numPossibleCpus();
  return possibleCpus;
}

/** Errnos with which the kernel says a map type has no batch operations. */
function meansNoBatch(err: unknown): boolean {
  return err instanceof BpfError && ['EINVAL', 'ENOTSUPP', 'EOPNOTSUPP', 'ENOTSUP'].includes(errnoName(err.errno));
}

/**
 * The result of a whole-map read: keys and values side by side in two buffers owned by the reader.
 * Valid until the reader's next whole-map read. Decode in place with DataView (no per-entry objects).
 */
export class MapBatch {
  constructor(
    readonly count: number,
    readonly keys: DataView,
    readonly values: DataView,
    readonly keySize: number,
    /** Bytes between consecutive values: value size, or for per-CPU maps one 8-byte-aligned slot per CPU. */
    readonly valueStride: number,
    /** Bytes between per-CPU slots of one value (0 for ordinary maps). */
    readonly cpuStride: number,
    readonly cpus: number,
  ) {}

  keyOffset(i: number): number {
    return i * this.keySize;
  }

  valueOffset(i: number, cpu = 0): number {
    return i * this.valueStride + cpu * this.cpuStride;
  }
}

export interface ReadAllOptions {
  /** Delete what was read (lookup-and-delete), atomically per entry. */
  drain?: boolean;
}

export class MapReader<K, V> {
  readonly name: string;
  readonly fd: number;
  readonly type: number;
  readonly typeName: string;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly perCpu: boolean;
  readonly cpus: number;
  readonly cpuStride: number;
  readonly valueStride: number;
  /** 'batch' until the kernel says the map type lacks batch operations, then 'iterate' for good. */
  mode: 'batch' | 'iterate' = 'batch';
  /** Entries the first whole-map read makes room for (grown as needed): keep small for maps with large values. */
  initialEntries = 4096;
  private drainMode: 'batch' | 'iterate' = 'batch';
  private keyBuf = Buffer.alloc(0);
  private valueBuf = Buffer.alloc(0);
  private chunk = Buffer.alloc(0);
  private scratchKey: Buffer;
  private scratchValue: Buffer;

  constructor(
    info: NativeMapInfo,
    readonly keyCodec: Codec<K>,
    readonly valueCodec: Codec<V>,
    private readonly checkOpen: () => void,
  ) {
    this.name = info.name;
    this.type = info.type;
    this.typeName = info.typeName;
    this.keySize = info.keySize;
    this.valueSize = info.valueSize;
    this.maxEntries = info.maxEntries;
    this.perCpu = PER_CPU_TYPES.has(info.type);
    this.cpus = this.perCpu ? numPossibleCpus() : 1;
    this.cpuStride = this.perCpu ? Math.ceil(info.valueSize / 8) * 8 : 0;
    this.valueStride = this.perCpu ? this.cpuStride * this.cpus : info.valueSize;
    this.scratchKey = Buffer.alloc(Math.max(info.keySize, 1));
    this.scratchValue = Buffer.alloc(Math.max(this.valueStride, 1));
    this.fd = info.fd;
    if (keyCodec.size !== info.keySize) {
      throw new TypeError(`map ${info.name}: key codec is ${keyCodec.size} bytes, the map's key is ${info.keySize}`);
    }
    if (valueCodec.size !== info.valueSize) {
      throw new TypeError(`map ${info.name}: value codec is ${valueCodec.size} bytes, the map's value is ${info.valueSize}`);
    }
  }

  private encodeKey(key: K): Buffer {
    this.scratchKey.fill(0);
    this.keyCodec.encode(key, viewOf(this.scratchKey), 0);
    return this.scratchKey;
  }

  /** The value for `key`, or undefined. For per-CPU maps use getPerCpu(). */
  get(key: K): V | undefined {
    this.checkOpen();
    if (this.perCpu) throw new TypeError(`map ${this.name} is per-CPU: use getPerCpu()`);
    const found = native().map.lookup(this.fd, this.encodeKey(key), this.scratchValue);
    return found ? this.valueCodec.decode(viewOf(this.scratchValue), 0) : undefined;
  }

  /** One value per possible CPU, or undefined. */
  getPerCpu(key: K): V[] | undefined {
    this.checkOpen();
    if (!native().map.lookup(this.fd, this.encodeKey(key), this.scratchValue)) return undefined;
    const view = viewOf(this.scratchValue);
    const out: V[] = [];
    for (let cpu = 0; cpu < this.cpus; cpu++) out.push(this.valueCodec.decode(view, cpu * this.cpuStride));
    return out;
  }

  /** Writes `value` (for per-CPU maps, the same value on every CPU). */
  set(key: K, value: V, flags = 0): void {
    this.checkOpen();
    const keyBuf = Buffer.from(this.encodeKey(key));
    const valueBuf = Buffer.alloc(Math.max(this.valueStride, 1));
    const view = viewOf(valueBuf);
    for (let cpu = 0; cpu < this.cpus; cpu++) this.valueCodec.encode(value, view, cpu * this.cpuStride);
    native().map.update(this.fd, keyBuf, valueBuf, flags);
  }

  /**
   * Takes one entry out of the map, atomically (lookup-and-delete): its value lands in `into` (raw,
   * per-CPU slots for per-CPU maps). False when the key was absent.
   */
  takeRaw(key: Uint8Array, into: Buffer): boolean {
    this.checkOpen();
    if (into.length < this.valueStride) throw new RangeError(`map ${this.name}: value buffer of ${into.length} bytes, need ${this.valueStride}`);
    return native().map.lookupAndDelete(this.fd, Buffer.from(key.buffer, key.byteOffset, key.byteLength), into);
  }

  delete(key: K): boolean {
    this.checkOpen();
    return native().map.delete(this.fd, this.encodeKey(key));
  }

  /**
   * Deletes the first `count` keys packed in `keys` (keySize bytes each) in one call across the
   * native boundary and, where the map type has it, one syscall. Returns how many were present.
   */
  deleteMany(keys: Buffer, count: number): number {
    this.checkOpen();
    if (count === 0) return 0;
    return native().map.deleteMany(this.fd, keys, this.keySize, count);
  }

  /** All keys, walking the map with get_next_key. */
  keys(): K[] {
    this.checkOpen();
    const out: K[] = [];
    let prev: Buffer | null = null;
    for (;;) {
      const next = Buffer.alloc(this.keySize);
      if (!native().map.nextKey(this.fd, prev, next)) return out;
      out.push(this.keyCodec.decode(viewOf(next), 0));
      prev = next;
    }
  }

  private ensureCapacity(entries: number, keep: number): void {
    const keyBytes = entries * this.keySize;
    const valueBytes = entries * this.valueStride;
    if (this.keyBuf.length >= keyBytes && this.valueBuf.length >= valueBytes) return;
    const keys = Buffer.alloc(keyBytes);
    const values = Buffer.alloc(valueBytes);
    this.keyBuf.copy(keys, 0, 0, keep * this.keySize);
    this.valueBuf.copy(values, 0, 0, keep * this.valueStride);
    this.keyBuf = keys;
    this.valueBuf = values;
  }

  private capacity(): number {
    return Math.min(this.keyBuf.length / this.keySize, this.valueBuf.length / this.valueStride);
  }

  private readInto(start: number, drain: boolean): BulkResult {
    const ops = native().map;
    const keys = this.keyBuf.subarray(start * this.keySize);
    const values = this.valueBuf.subarray(start * this.valueStride);
    const useBatch = drain ? this.drainMode === 'batch' : this.mode === 'batch';
    if (useBatch) {
      try {
        return ops.lookupBatch(this.fd, keys, values, this.keySize, this.valueStride, drain);
      } catch (err) {
        if (!meansNoBatch(err)) throw err;
        if (drain) this.drainMode = 'iterate';
        else this.mode = 'iterate';
      }
    }
    return ops.iterate(this.fd, keys, values, this.keySize, this.valueStride, drain);
  }

  /**
   * Reads the whole map in one pass: batch lookup (or lookup-and-delete with `drain`), falling back
   * once and for good to key iteration where the map type has no batch operations.
   */
  readAll(options: ReadAllOptions = {}): MapBatch {
    this.checkOpen();
    const drain = options.drain ?? false;
    if (drain && ARRAY_TYPES.has(this.type)) throw new TypeError(`map ${this.name}: array entries cannot be deleted`);
    if (this.capacity() === 0) this.ensureCapacity(Math.min(this.maxEntries, this.initialEntries), 0);
    let r = this.readInto(0, drain);
    let count = r.count;
    // Bounded: under a sustained stream of inserts a drain could otherwise chase the producer forever.
    for (let rounds = 0; !r.done && rounds < 8; rounds++) {
      // More entries than room: grow. A drain continues where it stopped; a plain read starts over.
      // (A hash bucket that did not fit may stop a batch just short of a full buffer.)
      const grown = Math.max(this.capacity() * 4, count + 1024);
      this.ensureCapacity(Math.min(grown, this.maxEntries + 1024), drain ? count : 0);
      r = this.readInto(drain ? count : 0, drain);
      count = drain ? count + r.count : r.count;
    }
    return new MapBatch(count, viewOf(this.keyBuf), viewOf(this.valueBuf), this.keySize, this.valueStride, this.cpuStride, this.cpus);
  }

  /**
   * Values `start` to `start + count - 1` (fewer at its end) of an array made with BPF_F_MMAPABLE,
   * read through a mapping (no system call per entry; native readMapped says in which order), into
   * a buffer kept for the next call: a large array read in chunks, without a buffer for all of it.
   * Valid until the next call; value i is at i * valueSize.
   */
  readMapped(start: number, count: number): DataView {
    this.checkOpen();
    if (this.type !== MapType.array) throw new TypeError(`map ${this.name}: only arrays can be read through a mapping`);
    if (this.valueSize % 8) throw new TypeError(`map ${this.name}: values of ${this.valueSize} bytes, read through a mapping in 8-byte words`);
    count = Math.max(0, Math.min(count, this.maxEntries - start));
    if (this.chunk.length < count * this.valueSize) this.chunk = Buffer.alloc(count * this.valueSize);
    native().map.readMapped(this.fd, start * this.valueSize, this.chunk.subarray(0, count * this.valueSize));
    return viewOf(this.chunk);
  }

  /** Decoded entries (allocates: for tools and tests, not for per-interval hot paths). */
  entries(options: ReadAllOptions = {}): Array<[K, V]> {
    if (this.perCpu) throw new TypeError(`map ${this.name} is per-CPU: use perCpuEntries()`);
    const batch = this.readAll(options);
    const out: Array<[K, V]> = [];
    for (let i = 0; i < batch.count; i++) {
      out.push([this.keyCodec.decode(batch.keys, batch.keyOffset(i)), this.valueCodec.decode(batch.values, batch.valueOffset(i))]);
    }
    return out;
  }

  perCpuEntries(options: ReadAllOptions = {}): Array<[K, V[]]> {
    const batch = this.readAll(options);
    const out: Array<[K, V[]]> = [];
    for (let i = 0; i < batch.count; i++) {
      const values: V[] = [];
      for (let cpu = 0; cpu < batch.cpus; cpu++) values.push(this.valueCodec.decode(batch.values, batch.valueOffset(i, cpu)));
      out.push([this.keyCodec.decode(batch.keys, batch.keyOffset(i)), values]);
    }
    return out;
  }

  /** Sum of a u64 per-CPU counter at `key` (0 when absent). */
  sumPerCpuU64(key: K, fieldOffset = 0): number {
    this.checkOpen();
    if (!native().map.lookup(this.fd, this.encodeKey(key), this.scratchValue)) return 0;
    const view = viewOf(this.scratchValue);
    let total = 0;
    for (let cpu = 0; cpu < this.cpus; cpu++) {
      const o = cpu * this.cpuStride + fieldOffset;
      total += view.getUint32(o, true) + view.getUint32(o + 4, true) * 2 ** 32;
    }
    return total;
  }
}
