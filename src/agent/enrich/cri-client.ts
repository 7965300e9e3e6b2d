// The Kubernetes Container Runtime Interface (runtime.v1.RuntimeService) over a unix socket, with
// @grpc/grpc-js: typed read calls, each with a deadline, and errors told apart (absent socket, a
// socket that is not gRPC, a gRPC server without CRI). The proto sits beside this file
// (cri-api/api.proto; make copies it into dist/).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

export const CRI_PROTO = fileURLToPath(new URL('./cri-api/api.proto', import.meta.url));

export interface CriImageSpec {
  image: string;
  user_specified_image?: string;
}
export interface CriContainerMetadata {
  name: string;
  attempt: number;
}
export interface CriPodSandboxMetadata {
  name: string;
  uid: string;
  namespace: string;
  attempt: number;
}
/** ListContainers' Container. Enums are names (CONTAINER_RUNNING), int64s strings. */
export interface CriContainer {
  id: string;
  pod_sandbox_id: string;
  metadata: CriContainerMetadata | null;
  image: CriImageSpec | null;
  image_ref: string;
  state: string;
  labels: Record<string, string>;
}
export interface CriContainerStatus {
  id: string;
  metadata: CriContainerMetadata | null;
  state: string;
  image: CriImageSpec | null;
  image_ref: string;
  labels: Record<string, string>;
}
export interface CriPodSandbox {
  id: string;
  metadata: CriPodSandboxMetadata | null;
  state: string;
  labels: Record<string, string>;
}
export interface CriPodSandboxStatus extends CriPodSandbox {
  network: { ip: string; additional_ips: Array<{ ip: string }> } | null;
  linux: { namespaces: { options: { network: string } | null } | null } | null;
}
export interface CriVersion {
  version: string;
  runtime_name: string;
  runtime_version: string;
  runtime_api_version: string;
}

/** A CRI call failed: the gRPC status and what it means for someone running the agent. */
export class CriError extends Error {
  constructor(
    readonly code: grpc.status,
    message: string,
  ) {
    super(message);
    this.name = 'CriError';
  }
}

function explain(err: grpc.ServiceError, socket: string, timeoutMs: number): CriError {
  const details = err.details || err.message;
  switch (err.code) {
    case grpc.status.UNIMPLEMENTED:
      return new CriError(err.code, `the socket speaks gRPC but does not serve runtime.v1.RuntimeService (CRI v1): ${details}`);
    case grpc.status.DEADLINE_EXCEEDED:
      return new CriError(err.code, `no answer within ${timeoutMs} ms`);
    case grpc.status.UNAVAILABLE:
      if (/Protocol error/i.test(details)) return new CriError(err.code, 'the socket answered, but not with HTTP/2 gRPC (protocol error): it is not a CRI socket');
      if (/ENOENT/.test(details) || !existsSync(socket)) return new CriError(err.code, `socket ${socket} is absent`);
      if (/ECONNREFUSED/.test(details)) return new CriError(err.code, 'nothing listens on the socket (connection refused)');
      if (/EACCES/.test(details)) return new CriError(err.code, 'permission denied on the socket');
      return new CriError(err.code, `unavailable: ${details}`);
    default:
      return new CriError(err.code, `${grpc.status[err.code] ?? err.code}: ${details}`);
  }
}

type Unary = (request: object, options: grpc.CallOptions, callback: (err: grpc.ServiceError | null, res?: unknown) => void) => void;

let definition: protoLoader.PackageDefinition | undefined;
function runtimeService(): grpc.ServiceClientConstructor {
  if (!existsSync(CRI_PROTO)) throw new Error(`the CRI proto is missing at ${CRI_PROTO}: run make (it copies src/**/*.proto into dist/)`);
  definition ??= protoLoader.loadSync(CRI_PROTO, { keepCase: true, longs: String, enums: String, defaults: true });
  const pkg = grpc.loadPackageDefinition(definition) as unknown as { runtime: { v1: { RuntimeService: grpc.ServiceClientConstructor } } };
  return pkg.runtime.v1.RuntimeService;
}

export class CriClient {
  private readonly client: grpc.Client;

  constructor(
    readonly socket: string,
    readonly timeoutMs = 2000,
  ) {
    const Service = runtimeService();
    this.client = new Service(`unix://${socket}`, grpc.credentials.createInsecure(), {
      // kubelet's limit: a node's full container list fits.
      'grpc.max_receive_message_length': 16 * 1024 * 1024,
      'grpc.initial_reconnect_backoff_ms': 1000,
      'grpc.max_reconnect_backoff_ms': 30_000,
    });
  }

  /** Any RuntimeService method by name (the test suite also runs pods with it). */
  call<T>(method: string, request: object, timeoutMs = this.timeoutMs): Promise<T> {
    const fn = (this.client as unknown as Record<string, Unary | undefined>)[method];
    if (typeof fn !== 'function') return Promise.reject(new Error(`runtime.v1.RuntimeService has no method ${method} in ${CRI_PROTO}`));
    return new Promise((resolve, reject) => {
      fn.call(this.client, request, { deadline: Date.now() + timeoutMs }, (err, res) => (err ? reject(explain(err, this.socket, timeoutMs)) : resolve(res as T)));
    });
  }

  /** A *Status call: its status, or undefined when the runtime has no such object. */
  private async status<T>(method: string, request: object): Promise<T | undefined> {
    try {
      return (await this.call<{ status: T | null }>(method, request)).status ?? undefined;
    } catch (err) {
      if (err instanceof CriError && err.code === grpc.status.NOT_FOUND) return undefined;
      throw err;
    }
  }

  version(): Promise<CriVersion> {
    return this.call<CriVersion>('Version', { version: 'v1' });
  }

  async listContainers(filter: { id?: string } = {}): Promise<CriContainer[]> {
    return (await this.call<{ containers: CriContainer[] }>('ListContainers', { filter })).containers;
  }

  /** undefined when the runtime has no such container. */
  containerStatus(id: string): Promise<CriContainerStatus | undefined> {
    return this.status('ContainerStatus', { container_id: id });
  }

  async listPodSandbox(): Promise<CriPodSandbox[]> {
    return (await this.call<{ items: CriPodSandbox[] }>('ListPodSandbox', {})).items;
  }

  /** undefined when the runtime has no such sandbox. */
  podSandboxStatus(id: string): Promise<CriPodSandboxStatus | undefined> {
    return this.status('PodSandboxStatus', { pod_sandbox_id: id });
  }

  close(): void {
    this.client.close();
  }
}
