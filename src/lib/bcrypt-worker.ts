// Runs bcrypt off the main thread: bcryptjs computes in 100 ms slices on the thread that calls it, so
// on the main thread every wrong password would stall the process's timers and requests.
import { parentPort } from 'node:worker_threads';
import bcrypt from 'bcryptjs';

export type BcryptJob = { id: number; op: 'compare'; password: string; hash: string } | { id: number; op: 'hash'; password: string; cost: number };
export interface BcryptDone {
  id: number;
  ok?: boolean;
  hash?: string;
  error?: string;
}

parentPort?.on('message', (job: BcryptJob) => {
  let done: BcryptDone;
  try {
    done = job.op === 'compare' ? { id: job.id, ok: bcrypt.compareSync(job.password, job.hash) } : { id: job.id, hash: bcrypt.hashSync(job.password, job.cost) };
  } catch (err) {
    done = { id: job.id, error: (err as Error).message };
  }
  parentPort!.postMessage(done);
});
