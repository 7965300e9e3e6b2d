// Custom programs inside the agent: from --programs, and in a Kubernetes cluster from BpfProgram
// resources, with pod labels from the agent's own Kubernetes watch. Loaded lazily, so that an agent
// without them does not carry their code.
import type { AgentContext, AgentSource } from '../agent/agent.js';
import type { BpfRunRow } from '../lib/metrics.js';
import type { ProgramRegistry } from '../programs/exporter.js';
import type { BpfProgramWatcher } from '../programs/watch.js';
import type { ObjectTrust } from '../programs/trust.js';

/** The API server and bearer token of a kubeconfig's current context, for the BpfProgram watcher. */
async function kubeconfigConnection(path: string): Promise<{ server: string; token?: string }> {
  const { loadKubeConfig } = await import('../agent/enrich/k8s.js');
  const kc = loadKubeConfig(path);
  const server = kc.getCurrentCluster()!.server;
  const token = kc.getCurrentUser()?.token;
  return { server, ...(token ? { token } : {}) };
}

export class AgentPrograms implements AgentSource {
  readonly name = 'programs';
  private registry: ProgramRegistry | undefined;
  private watcher: BpfProgramWatcher | undefined;

  constructor(
    private readonly paths: string[],
    /** Which objects BpfProgram resources may load (--trusted-object-dir, --allow-object-base64). */
    private readonly trust: ObjectTrust = { allowedDirs: [], allowInline: false },
  ) {}

  async start(ctx: AgentContext): Promise<void> {
    const { log } = ctx;
    // BpfProgram resources are watched where Kubernetes is (the same decision as for labels).
    if (!this.paths.length && !ctx.kubernetes.wanted) return;
    let connection;
    if (ctx.kubernetes.wanted) {
      const kubeconfig = ctx.kubernetes.kubeconfig;
      try {
        connection = kubeconfig ? await kubeconfigConnection(kubeconfig) : await (await import('../programs/watch.js')).inClusterConnection();
      } catch (err) {
        log.warn({ err: (err as Error).message }, `BpfProgram resources are not watched: ${(err as Error).message}`);
      }
    }
    if (!this.paths.length && !connection) return;
    const { startPrograms } = await import('../programs/exporter.js');
    const { EnricherPodIndex } = await import('./program-pods.js');
    this.registry = startPrograms(this.paths, log, ctx.bpfStats, new EnricherPodIndex(ctx.kubernetesIndex));
    if (connection) {
      const { BpfProgramWatcher } = await import('../programs/watch.js');
      this.watcher = new BpfProgramWatcher({ connection, node: ctx.kubernetes.nodeName, registry: this.registry, log, trust: this.trust });
      this.watcher.start();
      log.info(
        { server: connection.server, trustedObjectDirs: this.trust.allowedDirs, objectBase64: this.trust.allowInline },
        `watching BpfProgram resources; objects load when pinned by sha256${this.trust.allowedDirs?.length ? ` or from ${this.trust.allowedDirs.join(', ')}` : ''}${this.trust.allowInline ? '; object_base64 allowed' : ''}`,
      );
    }
  }

  render(): string {
    return this.registry?.render() ?? '';
  }

  bpfRuns(): BpfRunRow[] {
    return this.registry?.bpfRuns() ?? [];
  }

  capabilities(): unknown {
    if (!this.registry) return undefined;
    // Resources whose objects were refused stand beside the program sets, as failed ones with the reason.
    const refused = [...(this.watcher?.refused ?? [])].map(([name, r]) => ({ name, source: `BpfProgram/${name}`, loaded: false, attached: [], metrics: [], warnings: [], error: { stage: 'trust', message: r.message, reason: r.reason } }));
    return [...this.registry.statuses(), ...refused];
  }

  async stop(): Promise<void> {
    await this.watcher?.stop();
    this.registry?.close();
  }
}
