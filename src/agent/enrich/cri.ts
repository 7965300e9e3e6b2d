// containerd and CRI-O containers through CRI: names, images and labels from ListContainers, the
// pod from the Kubernetes labels kubelet sets (or the sandbox's own metadata), the pod's addresses
// from PodSandboxStatus (not for host-network pods: their address is the node's).
import type { Logger } from 'pino';
import { ContainerSource, type ContainerMeta, type SourceOptions } from './container-source.js';
import { CriClient, type CriContainer, type CriPodSandbox, type CriPodSandboxMetadata, type CriPodSandboxStatus } from './cri-client.js';
import { imageVersion } from './runtime.js';

/** The labels kubelet puts on every container and sandbox it creates. */
export const KUBE_LABELS = {
  container: 'io.kubernetes.container.name',
  pod: 'io.kubernetes.pod.name',
  namespace: 'io.kubernetes.pod.namespace',
  uid: 'io.kubernetes.pod.uid',
} as const;

/** Status calls per list: sandboxes (and containers listed with only an image id) new since the
 *  last list are asked about in batches. */
const STATUS_PER_LIST = 32;

export interface Sandbox {
  pod: { name: string; namespace: string; uid: string };
  ips: string[];
  /** PodSandboxStatus answered (addresses known). */
  known: boolean;
}

const IMAGE_ID = /^(sha256:)?[0-9a-f]{64}$/;

/** The image reference people read: a tag before a digest before an image id. */
export function preferredImage(candidates: Array<string | undefined>): string {
  const refs = candidates.filter((c): c is string => !!c);
  const named = refs.filter((r) => !IMAGE_ID.test(r));
  return named.find((r) => !r.includes('@')) ?? named[0] ?? refs[0] ?? '';
}

export function podOf(metadata: CriPodSandboxMetadata | null, labels: Record<string, string>): Sandbox['pod'] {
  return {
    name: labels[KUBE_LABELS.pod] || metadata?.name || '',
    namespace: labels[KUBE_LABELS.namespace] || metadata?.namespace || '',
    uid: labels[KUBE_LABELS.uid] || metadata?.uid || '',
  };
}

/** A sandbox's own addresses; none on the node's network (the address would be the node's). */
export function sandboxIps(status: CriPodSandboxStatus): string[] {
  if (status.linux?.namespaces?.options?.network === 'NODE' || !status.network) return [];
  return [status.network.ip, ...status.network.additional_ips.map((a) => a.ip)].filter(Boolean);
}

/** The image and its version from an image spec and reference (Container or ContainerStatus). */
export function imageOf(c: Pick<CriContainer, 'image' | 'image_ref'>): { image: string; version: string } {
  const image = preferredImage([c.image?.user_specified_image, c.image?.image, c.image_ref]);
  return { image, version: IMAGE_ID.test(image) ? '' : imageVersion(image) };
}

export function containerMeta(c: Pick<CriContainer, 'id' | 'metadata' | 'image' | 'image_ref' | 'labels'>, sandbox: Sandbox | undefined, runtime: string): ContainerMeta {
  const labels = c.labels ?? {};
  const fromLabels = podOf(null, labels);
  const pod = fromLabels.name ? { ...fromLabels, uid: fromLabels.uid || sandbox?.pod.uid || '' } : sandbox?.pod;
  return {
    id: c.id,
    name: labels[KUBE_LABELS.container] || c.metadata?.name || '',
    ...imageOf(c),
    labels,
    ips: sandbox?.ips ?? [],
    runtime,
    ...(pod?.name ? { pod } : {}),
  };
}

const live = (c: CriContainer): boolean => c.state === 'CONTAINER_RUNNING' || c.state === 'CONTAINER_CREATED';

export class CriRuntime extends ContainerSource {
  readonly api = 'CRI';
  private readonly client: CriClient;
  private readonly sandboxes = new Map<string, Sandbox>();
  /** Containers listed with only an image id whose ContainerStatus was asked for a reference. */
  private readonly imageAsked = new Set<string>();

  constructor(runtime: string, socket: string, log: Logger, options: SourceOptions = {}) {
    super(runtime, socket, log, options);
    this.client = new CriClient(socket, options.timeoutMs ?? 2000);
  }

  protected hint(): string {
    return `Check that ${this.socket} is ${this.runtime}'s CRI socket (containerd: its "cri" plugin is on, CRI v1 needs containerd 1.6 or later; CRI-O: /run/crio/crio.sock) and that it is mounted into the agent.`;
  }

  override close(): void {
    this.client.close();
  }

  protected async list(): Promise<ContainerMeta[]> {
    if (this.status.state !== 'connected') {
      const v = await this.client.version();
      this.status.version = `${v.runtime_name} ${v.runtime_version} (CRI ${v.runtime_api_version})`;
    }
    const [containers, sandboxes] = await Promise.all([this.client.listContainers(), this.client.listPodSandbox()]);
    await this.updateSandboxes(sandboxes);
    const metas = containers.filter(live).map((c) => containerMeta(c, this.sandboxes.get(c.pod_sandbox_id), this.runtime));
    const ids = new Set(metas.map((m) => m.id));
    for (const id of this.imageAsked) if (!ids.has(id)) this.imageAsked.delete(id);
    const unnamed = metas.filter((m) => IMAGE_ID.test(m.image) && !this.imageAsked.has(m.id)).slice(0, STATUS_PER_LIST);
    await Promise.all(unnamed.map((m) => this.nameImage(m)));
    return metas;
  }

  /**
   * Some runtimes list only the image id; ContainerStatus may have the reference it was run by.
   * Asked once per container; failing, the id stays (the list itself answered).
   */
  private async nameImage(m: ContainerMeta): Promise<void> {
    this.imageAsked.add(m.id);
    const status = await this.client.containerStatus(m.id).catch(() => undefined);
    if (status) Object.assign(m, imageOf({ image: status.image, image_ref: status.image_ref || m.image }));
  }

  /** Keeps the image reference ContainerStatus gave where the list has only the id. */
  protected override merge(old: ContainerMeta | undefined, listed: ContainerMeta): ContainerMeta {
    return old && IMAGE_ID.test(listed.image) && !IMAGE_ID.test(old.image) ? { ...listed, image: old.image, version: old.version } : listed;
  }

  protected async inspect(id: string): Promise<ContainerMeta | undefined> {
    // ContainerStatus lacks the sandbox id; a filtered list has it.
    const c = (await this.client.listContainers({ id })).find((x) => x.id === id);
    if (!c) return undefined;
    let sandbox = this.sandboxes.get(c.pod_sandbox_id);
    if (!sandbox) {
      const s = await this.client.podSandboxStatus(c.pod_sandbox_id);
      if (s) sandbox = { pod: podOf(s.metadata, s.labels), ips: sandboxIps(s), known: true };
    }
    const meta = containerMeta(c, sandbox, this.runtime);
    if (IMAGE_ID.test(meta.image)) await this.nameImage(meta);
    return meta;
  }

  /** Keeps the sandboxes that exist; asks new ready ones for their addresses (again at the next
   *  list where that fails: the containers are named meanwhile, only the addresses wait). */
  private async updateSandboxes(items: CriPodSandbox[]): Promise<void> {
    const seen = new Set<string>();
    const ask: string[] = [];
    for (const p of items) {
      seen.add(p.id);
      let s = this.sandboxes.get(p.id);
      if (!s) this.sandboxes.set(p.id, (s = { pod: podOf(p.metadata, p.labels), ips: [], known: false }));
      if (!s.known && p.state === 'SANDBOX_READY' && ask.length < STATUS_PER_LIST) ask.push(p.id);
    }
    for (const id of [...this.sandboxes.keys()]) if (!seen.has(id)) this.sandboxes.delete(id);
    await Promise.all(
      ask.map(async (id) => {
        const status = await this.client.podSandboxStatus(id).catch(() => undefined);
        const s = this.sandboxes.get(id);
        if (s && status) {
          s.ips = sandboxIps(status);
          s.known = true;
        }
      }),
    );
  }
}
