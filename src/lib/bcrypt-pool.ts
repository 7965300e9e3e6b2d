// A few worker threads for bcrypt, started when first needed: at most `size` hashes run at once, at
// most `maxWaiting` wait, and beyond that callers are told the pool is busy.
import { Worker } from 'node:worker_threads';
import type { BcryptDone, BcryptJob } from './bcrypt-worker.js';

type JobInput = { op: 'compare'; password: string; hash: string } | { op: 'hash'; password: string; cost: number };

interface Slot {
  worker: Worker;
  pending?: { id: number; resolve: (d: BcryptDone) => void };
}

export class BcryptPool {
  private readonly slots: Slot[] = [];
  private readonly waiting: Array<{ job: JobInput; resolve: (d: BcryptDone) => void }> = [];
  private nextId = 0;

  constructor(
    private readonly size = 2,
    private readonly maxWaiting = 32,
  ) {}

  /** Whether `password` matches `hash`; undefined when the pool is saturated. */
  async compare(password: string, hash: string): Promise<boolean | undefined> {
    const d = await this.run({ op: 'compare', password, hash });
    if (d === undefined) return undefined;
    return d.ok === true;
  }

  async hash(password: string, cost: number): Promise<string> {
    for (;;) {
      const d = await this.run({ op: 'hash', password, cost });
      if (d?.hash) return d.hash;
      if (d?.error) throw new Error(d.error);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  private run(job: JobInput): Promise<BcryptDone | undefined> {
    const idle = this.slots.find((s) => !s.pending) ?? (this.slots.length < this.size ? this.spawn() : undefined);
    if (idle) return new Promise((resolve) => this.send(idle, job, resolve));
    if (this.waiting.length >= this.maxWaiting) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiting.push({ job, resolve }));
  }

  private spawn(): Slot {
    const worker = new Worker(new URL('./bcrypt-worker.js', import.meta.url));
    worker.unref();
    const slot: Slot = { worker };
    worker.on('message', (d: BcryptDone) => {
      const p = slot.pending;
      slot.pending = undefined;
      if (p && p.id === d.id) p.resolve(d);
      const next = this.waiting.shift();
      if (next) this.send(slot, next.job, next.resolve);
    });
    worker.on('error', (err) => {
      slot.pending?.resolve({ id: slot.pending.id, error: err.message });
      this.slots.splice(this.slots.indexOf(slot), 1);
    });
    this.slots.push(slot);
    return slot;
  }

  private send(slot: Slot, job: JobInput, resolve: (d: BcryptDone) => void): void {
    const id = ++this.nextId;
    slot.pending = { id, resolve };
    slot.worker.postMessage({ ...job, id } as BcryptJob);
  }

  async close(): Promise<void> {
    await Promise.all(this.slots.splice(0).map((s) => s.worker.terminate()));
  }
}
