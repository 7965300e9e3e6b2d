// A container runtime's view of its containers, cached off the hot path: one list every refreshMs
// (backing off while the runtime does not answer), one question per unknown id on a cache miss.
// Subclasses say how to list and how to ask: the Docker Engine API (runtime.ts), CRI (cri.ts).
import { existsSync } from 'node:fs';
import type { Logger } from 'pino';
import type { RuntimeStatus } from '../../model/capabilities.js';

export interface ContainerMeta {
  id: string;
  name: string;
  image: string;
  /** The image's tag (or digest) as version; "" when untagged. */
  version: string;
  labels: Record<string, string>;
  ips: string[];
  runtime: string;
  /** The pod the container belongs to, where the runtime knows it (CRI). */
  pod?: { name: string; namespace: string; uid: string };
}

export type { RuntimeStatus };

export interface SourceOptions {
  timeoutMs?: number;
  refreshMs?: number;
  /** The longest wait between lists while the runtime does not answer. */
  maxBackoffMs?: number;
  maxContainers?: number;
  onChange?: () => void;
  onError?: () => void;
}

const MAX_INFLIGHT = 32;
const MAX_MISSING = 10_000;
const MISSING_MS = 10_000;

/** What makes a container's labels differ (list answers are compared to the cache by this). */
function fingerprint(m: ContainerMeta): string {
  return JSON.stringify([m.name, m.image, m.version, m.ips, m.pod ?? null]);
}

export abstract class ContainerSource {
  readonly status: RuntimeStatus;
  private readonly byId = new Map<string, ContainerMeta>();
  private readonly byIp = new Map<string, ContainerMeta>();
  private readonly inflight = new Set<string>();
  private readonly missing = new Map<string, number>();
  private refreshing = false;
  private nextRefreshMs = 0;
  private failures = 0;
  private warned = false;
  errors = 0;

  constructor(
    runtime: string,
    readonly socket: string,
    protected readonly log: Logger,
    protected readonly options: SourceOptions = {},
  ) {
    this.status = { runtime, socket, state: 'unavailable', reason: 'not contacted yet', containers: 0 };
  }

  /** How the runtime is spoken to, in messages: "API" (Docker Engine API) or "CRI". */
  abstract readonly api: string;
  /** Running containers, as the runtime lists them. */
  protected abstract list(): Promise<ContainerMeta[]>;
  /** One container by id; undefined when the runtime has no such container. */
  protected abstract inspect(id: string): Promise<ContainerMeta | undefined>;
  /** What to check when the runtime does not answer (the end of the one warning). */
  protected abstract hint(): string;
  /** The reason shown for an error (in /capabilities and the warning). */
  protected describe(err: unknown): string {
    return (err as Error).message;
  }
  /** A listed container, given what was known of it (Podman's list lacks the tag inspect gives). */
  protected merge(_old: ContainerMeta | undefined, listed: ContainerMeta): ContainerMeta {
    return listed;
  }

  close(): void {}

  get runtime(): string {
    return this.status.runtime;
  }

  protected get timeoutMs(): number {
    return this.options.timeoutMs ?? 2000;
  }

  container(id: string): ContainerMeta | undefined {
    return this.byId.get(id);
  }

  byAddress(ip: string): ContainerMeta | undefined {
    return this.byIp.get(ip);
  }

  private fail(err: unknown, what: string): void {
    this.errors++;
    this.options.onError?.();
    this.failures++;
    const refreshMs = this.options.refreshMs ?? 2000;
    this.nextRefreshMs = Date.now() + Math.min(refreshMs * 2 ** (this.failures - 1), this.options.maxBackoffMs ?? 30_000);
    const present = existsSync(this.socket);
    const reason = present ? `${what}: ${this.describe(err)}` : `socket ${this.socket} is absent`;
    this.status.state = present ? 'error' : 'unavailable';
    this.status.reason = reason;
    if (!this.warned) {
      this.warned = true;
      this.log.warn({ runtime: this.runtime, socket: this.socket, reason }, `${this.runtime} ${this.api} on ${this.socket} did not answer as expected (${reason}); containers keep their ids without names, and the agent asks again with backoff. ${this.hint()}`);
    }
  }

  protected ok(): void {
    this.failures = 0;
    if (this.status.state !== 'connected') {
      this.status.state = 'connected';
      delete this.status.reason;
      if (this.warned) this.log.warn({ runtime: this.runtime }, `${this.runtime} ${this.api} answers again`);
      this.warned = false;
    }
  }

  private add(meta: ContainerMeta): void {
    const max = this.options.maxContainers ?? 20000;
    if (!this.byId.has(meta.id) && this.byId.size >= max) return;
    this.remove(meta.id);
    this.byId.set(meta.id, meta);
    for (const ip of meta.ips) this.byIp.set(ip, meta);
    this.status.containers = this.byId.size;
  }

  private remove(id: string): void {
    const old = this.byId.get(id);
    if (!old) return;
    this.byId.delete(id);
    for (const ip of old.ips) if (this.byIp.get(ip) === old) this.byIp.delete(ip);
  }

  /** Re-lists running containers (at most every refreshMs, less often while failing, unless forced). */
  async refresh(force = false): Promise<void> {
    const now = Date.now();
    if (this.refreshing || (!force && now < this.nextRefreshMs)) return;
    this.refreshing = true;
    this.nextRefreshMs = now + (this.options.refreshMs ?? 2000);
    try {
      const list = await this.list();
      const seen = new Set<string>();
      let changed = false;
      for (const listed of list) {
        seen.add(listed.id);
        const old = this.byId.get(listed.id);
        const meta = this.merge(old, listed);
        if (!old || fingerprint(old) !== fingerprint(meta)) {
          this.add(meta);
          changed = true;
        }
      }
      for (const id of [...this.byId.keys()]) {
        if (seen.has(id)) continue;
        this.remove(id);
        changed = true;
      }
      this.status.containers = this.byId.size;
      this.ok();
      if (changed) this.options.onChange?.();
    } catch (err) {
      this.fail(err, 'listing containers');
    } finally {
      this.refreshing = false;
    }
  }

  /**
   * Asks the runtime about a container id it did not list yet: once at a time, at most
   * MAX_INFLIGHT at once, absent ids not again for 10 s, nothing while the runtime is failing
   * (the next list, with backoff, finds out when it is back).
   */
  lookup(id: string): void {
    if (this.byId.has(id) || this.inflight.has(id) || this.inflight.size >= MAX_INFLIGHT) return;
    const miss = this.missing.get(id);
    if (miss !== undefined && Date.now() - miss < MISSING_MS) return;
    if (this.status.state !== 'connected' && this.failures > 0) return;
    this.inflight.add(id);
    this.inspect(id)
      .then((meta) => {
        this.ok();
        if (!meta) {
          if (this.missing.size >= MAX_MISSING) this.missing.clear();
          this.missing.set(id, Date.now());
          return;
        }
        this.add(meta);
        this.options.onChange?.();
      })
      .catch((err: unknown) => this.fail(err, `asking about container ${id.slice(0, 12)}`))
      .finally(() => this.inflight.delete(id));
  }
}
