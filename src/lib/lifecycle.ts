// Starting a component that holds resources (programs, sockets, servers): if starting fails
// halfway, what was started is stopped again before the error goes on.

export interface Stoppable {
  stop(): Promise<void>;
}

/** Runs `init` on a new component; when it throws, stops the component and rethrows. */
export async function startOrStop<T extends Stoppable>(component: T, init: (c: T) => Promise<void>): Promise<T> {
  try {
    await init(component);
  } catch (err) {
    await component.stop().catch(() => undefined);
    throw err;
  }
  return component;
}
