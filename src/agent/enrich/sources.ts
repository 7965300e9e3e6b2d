// Container runtimes to ask for names: Docker Engine API sockets (Docker, Podman) and CRI sockets
// (containerd, CRI-O), given on the command line or found at their usual paths. The CRI client is
// loaded only where a CRI socket is: @grpc/grpc-js and protobufjs cost memory.
import { existsSync } from 'node:fs';
import type { Logger } from 'pino';
import type { RuntimeStatus } from '../../model/capabilities.js';
import type { CgroupContainer } from './container-id.js';
import type { ContainerSource } from './container-source.js';
import type { CriRuntime } from './cri.js';
import { CRI_SOCKETS, DEFAULT_SOCKETS, isCriRuntime, RuntimeClient } from './runtime.js';

export interface RuntimeSocket {
  runtime: string;
  socket: string;
}

/** The sockets given, else the default ones that exist; one per runtime (docker.sock is often reachable by two paths). */
function socketsToUse(given: RuntimeSocket[], defaults: RuntimeSocket[]): RuntimeSocket[] {
  const out: RuntimeSocket[] = [];
  for (const s of given.length ? given : defaults.filter((d) => existsSync(d.socket))) if (!out.some((o) => o.runtime === s.runtime)) out.push(s);
  return out;
}

export interface SourceEvents {
  /** A runtime's view changed (containers came or went): cached labels are stale. */
  onChange: () => void;
  onError: (runtime: string) => void;
}

export class ContainerSources {
  readonly runtimes: RuntimeClient[] = [];
  readonly cri: CriRuntime[] = [];
  private readonly criSockets: RuntimeSocket[];
  private criError: string | undefined;

  constructor(
    given: RuntimeSocket[],
    private readonly log: Logger,
    private readonly events: SourceEvents,
  ) {
    for (const s of socketsToUse(given.filter((s) => !isCriRuntime(s.runtime)), DEFAULT_SOCKETS)) this.runtimes.push(new RuntimeClient(s.runtime, s.socket, log, this.sourceOptions(s.runtime)));
    this.criSockets = socketsToUse(given.filter((s) => isCriRuntime(s.runtime)), CRI_SOCKETS);
  }

  private sourceOptions(runtime: string): { onChange: () => void; onError: () => void } {
    return { onChange: this.events.onChange, onError: () => this.events.onError(runtime) };
  }

  /** Docker Engine API and CRI endpoints alike. */
  get all(): ContainerSource[] {
    return [...this.runtimes, ...this.cri];
  }

  async start(): Promise<void> {
    if (this.criSockets.length) {
      try {
        const { CriRuntime } = await import('./cri.js');
        for (const s of this.criSockets) this.cri.push(new CriRuntime(s.runtime, s.socket, this.log, this.sourceOptions(s.runtime)));
      } catch (err) {
        this.criError = `the CRI client did not load: ${(err as Error).message}`;
        this.log.warn({ err: this.criError }, `containerd/CRI-O containers keep their ids without names: ${this.criError}`);
      }
    }
    for (const r of this.all) void r.refresh(true);
  }

  refresh(): void {
    for (const r of this.all) void r.refresh();
  }

  /** The source that knows a container of this cgroup layout (Podman answers the Docker API too). */
  for(c: CgroupContainer): ContainerSource | undefined {
    return this.all.find((r) => r.runtime === c.runtime) ?? (c.runtime === 'podman' ? this.runtimes.find((r) => r.runtime === 'docker') : undefined);
  }

  /** Why a container has no name. */
  unnamedReason(c: CgroupContainer, rt: ContainerSource | undefined): string {
    if (rt) return rt.status.state === 'connected' ? `${rt.runtime} has not answered about this container yet` : `${rt.runtime} ${rt.api}: ${rt.status.reason ?? rt.status.state}`;
    if (isCriRuntime(c.runtime)) return this.criError ?? `no ${c.runtime} CRI socket found (${CRI_SOCKETS.map((s) => s.socket).join(', ')}; or --runtime-socket ${c.runtime}=<path>): id only`;
    return c.runtime === 'cgroup' ? 'no runtime owns this cgroup: id from the cgroup path' : `no ${c.runtime} socket found`;
  }

  status(): { runtimes: RuntimeStatus[]; cri: RuntimeStatus[]; reason?: string; criReason?: string } {
    return {
      runtimes: this.runtimes.map((r) => ({ ...r.status })),
      cri: this.cri.map((r) => ({ ...r.status })),
      ...(this.runtimes.length === 0 ? { reason: `no Docker or Podman API socket found (${DEFAULT_SOCKETS.map((s) => s.socket).join(', ')}): containers are named by id` } : {}),
      ...(this.cri.length === 0 ? { criReason: this.criError ?? `no CRI socket found (${CRI_SOCKETS.map((s) => s.socket).join(', ')}): containerd and CRI-O containers are named by id (or from Kubernetes)` } : {}),
    };
  }

  close(): void {
    for (const r of this.cri) r.close();
  }
}
