// Everything attached to the kernel is detached when the process ends: on close(), on normal exit,
// and on SIGINT/SIGTERM. Links that are file descriptors would go with the process anyway; legacy TC
// filters would not, and stay attached to the interface unless removed here.

export interface Closable {
  close(): void;
}

const open = new Set<Closable>();
let installed = false;

const SIGNALS: Array<[NodeJS.Signals, number]> = [
  ['SIGINT', 2],
  ['SIGTERM', 15],
];

/** Closes every open BPF object and ring buffer reader (newest first). */
export function closeAll(): void {
  for (const item of [...open].reverse()) {
    try {
      item.close();
    } catch {
      // Best effort at exit: keep closing the rest.
    }
  }
  open.clear();
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', closeAll);
  for (const [signal, number] of SIGNALS) {
    const handler = (): void => {
      // An application that listens for this signal too shuts down in its own way (reading maps a
      // last time first); the 'exit' hook detaches afterwards.
      if (process.listenerCount(signal) > 1) return;
      closeAll();
      process.exit(128 + number);
    };
    process.on(signal, handler);
  }
}

export function register(item: Closable): void {
  install();
  open.add(item);
}

export function unregister(item: Closable): void {
  open.delete(item);
}
