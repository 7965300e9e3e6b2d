// At most one expensive render at a time (the /metrics exposition): requests that arrive while one runs
// share its result instead of starting another; past `maxSharing` waiting requests, callers are told to
// come back later, so a flood of scrapes costs one render and bounded memory.
export class SingleFlight<T> {
  private current: Promise<T> | undefined;
  private sharing = 0;
  /** Renders started (for tests and self-metrics). */
  started = 0;

  constructor(
    private readonly render: () => Promise<T>,
    private readonly maxSharing = 64,
  ) {}

  /** The running render's result, or a new render's; undefined when too many already wait. */
  run(): Promise<T> | undefined {
    if (this.current) {
      if (this.sharing >= this.maxSharing) return undefined;
      this.sharing++;
      return this.current;
    }
    this.started++;
    this.sharing = 1;
    const p = Promise.resolve()
      .then(this.render)
      .finally(() => {
        this.current = undefined;
        this.sharing = 0;
      });
    this.current = p;
    return p;
  }
}
