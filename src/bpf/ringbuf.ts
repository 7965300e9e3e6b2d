// RingBufReader: batches of ring buffer records as an async iterable, with backpressure.
import { native, type NativeRingBuf, type NativeRingBufStats } from './native.js';
import { BpfError } from './errors.js';
import { register, unregister, type Closable } from './lifecycle.js';

/** One batch of records, as delivered by the consumer thread. Decode in place with `forEach`. */
export class RecordBatch {
  readonly view: DataView;

  constructor(
    readonly buffer: Buffer,
    readonly count: number,
  ) {
    this.view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  }

  /** Calls `fn(view, offset, length)` for each record, in order, without allocating. */
  forEach(fn: (view: DataView, offset: number, length: number) => void): void {
    const view = this.view;
    const end = view.byteLength;
    for (let off = 0; off + 8 <= end; ) {
      const length = view.getUint32(off, true);
      fn(view, off + 8, length);
      off += 8 + ((length + 7) & ~7);
    }
  }
}

export interface RingBufOptions {
  /** Largest batch handed to JavaScript (default 256 KiB). */
  maxBatchBytes?: number;
  /**
   * Batches JavaScript may hold before the consumer thread waits (default 8). While it waits,
   * records stay in the kernel ring; when that is full, producers count what they could not reserve.
   */
  maxPendingBatches?: number;
  /** How long the consumer thread sleeps between drains when producers do not wake it (default 10 ms). */
  pollTimeoutMs?: number;
  /** 'block' (default): wait for JavaScript. 'drop': discard batches JavaScript has no room for, counted in `dropped`. */
  overflow?: 'block' | 'drop';
  /** Reads the producers' count of records they could not reserve (see FLOWSCOPE_RB_LOST_MAP). */
  kernelLost?: () => number;
  /**
   * Push mode: each batch is handed to this function as soon as it arrives, then released. Use it
   * when records must be handled continuously; the async iterator is then unused.
   */
  handler?: (batch: RecordBatch) => void;
  /** Called when `handler` throws (default: one process warning); the reader goes on either way. */
  onHandlerError?: (err: unknown) => void;
}

export interface RingBufStats extends NativeRingBufStats {
  /** Records producers could not reserve because the ring was full. */
  kernelLost: number;
}

export class RingBufReader implements AsyncIterable<RecordBatch>, Closable {
  private readonly handle: NativeRingBuf;
  private readonly queue: RecordBatch[] = [];
  private waiters: Array<(r: IteratorResult<RecordBatch>) => void> = [];
  private failure: Error | undefined;
  private handedOut = 0;
  private closed = false;
  private finalStats: NativeRingBufStats | undefined;
  private received = 0;
  /** Batches whose handler threw (the records were consumed, not lost in the ring). */
  handlerErrors = 0;

  constructor(
    readonly name: string,
    mapFd: number,
    private readonly options: RingBufOptions = {},
  ) {
    this.handle = new (native().NativeRingBuf)(mapFd, (buf, n) => this.onBatch(buf, n), {
      maxBatchBytes: options.maxBatchBytes ?? 256 * 1024,
      maxPendingBatches: options.maxPendingBatches ?? 8,
      pollTimeoutMs: options.pollTimeoutMs ?? 10,
      dropWhenFull: options.overflow === 'drop',
    });
    register(this);
  }

  private onBatch(buffer: Buffer | null, recordsOrErrno: number): void {
    if (this.closed) return;
    if (buffer === null) {
      this.failure = new BpfError(`ring buffer ${this.name}: consumer thread stopped`, 'ring buffer poll', recordsOrErrno);
      this.wakeAll();
      return;
    }
    this.received++;
    const batch = new RecordBatch(buffer, recordsOrErrno);
    if (this.options.handler) {
      try {
        this.options.handler(batch);
      } catch (err) {
        // A handler that fails on one batch must not take the process down (nor stop the reader).
        this.handlerErrors++;
        if (this.options.onHandlerError) this.options.onHandlerError(err);
        else if (this.handlerErrors === 1) process.emitWarning(`ring buffer ${this.name}: the batch handler threw (${err instanceof Error ? err.message : String(err)}); later failures are only counted`);
      } finally {
        this.handle.ack();
      }
      return;
    }
    const waiter = this.waiters.shift();
    if (waiter) {
      this.handedOut++;
      waiter({ value: batch, done: false });
    } else {
      this.queue.push(batch);
    }
  }

  private wakeAll(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w({ value: undefined, done: true });
  }

  /** Acknowledges batches the consumer has finished, letting the thread deliver more. */
  private release(): void {
    while (this.handedOut > 0) {
      this.handedOut--;
      this.handle.ack();
    }
  }

  /** The next batch, or null once the reader is closed. Finishing with a batch = asking for the next. */
  async read(): Promise<RecordBatch | null> {
    const r = await this.next();
    return r.done ? null : r.value;
  }

  next(): Promise<IteratorResult<RecordBatch>> {
    this.release();
    if (this.failure) return Promise.reject(this.failure);
    const queued = this.queue.shift();
    if (queued) {
      this.handedOut++;
      return Promise.resolve({ value: queued, done: false });
    }
    if (this.closed) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  [Symbol.asyncIterator](): AsyncIterator<RecordBatch> {
    return {
      next: () => this.next(),
      return: async () => {
        this.close();
        return { value: undefined, done: true };
      },
    };
  }

  /**
   * Resolves once every record submitted before the call has been delivered to this reader's queue
   * (or the reader is at its pending limit).
   */
  async flush(): Promise<void> {
    if (this.closed) return;
    this.handle.flush();
    // The thread has queued its deliveries on the event loop: wait until they have run.
    const target = this.handle.stats().batches;
    for (let spins = 0; this.received < target && !this.closed && spins < 1000; spins++) {
      await new Promise((r) => setImmediate(r));
    }
  }

  stats(): RingBufStats {
    const s = this.finalStats ?? this.handle.stats();
    return { ...s, kernelLost: this.options.kernelLost?.() ?? 0 };
  }

  /** Records lost anywhere on the way: not reserved in the kernel, or dropped by the consumer thread. */
  lost(): number {
    const s = this.stats();
    return s.kernelLost + s.dropped;
  }

  /** Lets the process exit while the reader is open (like socket.unref()). */
  unref(): this {
    if (!this.closed) this.handle.unref();
    return this;
  }

  /** Stops the consumer thread; pending and future reads resolve as done. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.handle.close();
    this.finalStats = this.handle.stats();
    this.queue.length = 0;
    this.wakeAll();
    unregister(this);
  }
}
