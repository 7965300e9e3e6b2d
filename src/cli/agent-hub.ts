// The agent's options for the hub and for standing as one node of several on one kernel:
// --hub, --hub-token-file, --netns, --zone (with --node-name).
import { statSync } from 'node:fs';
import { basename } from 'node:path';
import type { Command } from 'commander';
import type { Logger } from 'pino';
import type { AgentOptions } from '../agent/agent.js';
import { UsageError } from './errors.js';
import { readTokenFile } from './hub.js';

export interface AgentHubFlags {
  hub?: string;
  hubTokenFile?: string;
  netns?: string;
  zone?: string;
}

export function addAgentHubOptions(cmd: Command): Command {
  return cmd
    .option('--hub <url>', 'send each interval\'s edges to a hub (e.g. http://hub:4040): buffered while it is away, resent without double counting')
    .option('--hub-token-file <path>', "the hub's bearer token (the hub's --token-file)")
    .option('--netns <path>', 'observe only the connections of this network namespace (e.g. /run/netns/NAME): with --node-name and --zone, one agent per namespace stands for one node')
    .option('--zone <zone>', "this node's zone (default: none; on Kubernetes nodes the topology.kubernetes.io/zone label)");
}

/** The network namespace's inode: what the kernel reports for each connection. */
function netnsInode(path: string): number {
  try {
    const st = statSync(path);
    return st.ino;
  } catch (err) {
    throw new UsageError(`--netns ${path} cannot be read: ${(err as Error).message} (use /run/netns/NAME from ip netns, or /proc/PID/ns/net)`);
  }
}

export function agentHubOptionsFrom(flags: AgentHubFlags, nodeName: string): Pick<AgentOptions, 'hub' | 'netns'> {
  const netns = flags.netns ? netnsInode(flags.netns) : undefined;
  if (flags.hubTokenFile && !flags.hub) throw new UsageError('--hub-token-file needs --hub URL');
  let hub: AgentOptions['hub'];
  if (flags.hub) {
    let url: URL;
    try {
      url = new URL(flags.hub);
    } catch {
      throw new UsageError(`--hub '${flags.hub}' is not a URL: use e.g. http://127.0.0.1:4040`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--hub '${flags.hub}': use an http:// or https:// URL`);
    hub = {
      url: url.toString().replace(/\/+$/, ''),
      token: flags.hubTokenFile ? readTokenFile(flags.hubTokenFile, '--hub-token-file') : undefined,
      agent: netns !== undefined ? `${nodeName}/${basename(flags.netns!)}` : nodeName,
      node: nodeName,
      zone: flags.zone ?? '',
    };
  }
  return { hub, netns };
}

/** What the zone lookup needs of the agent's options. */
export interface ZoneSource {
  kubernetes: 'auto' | 'on' | 'off';
  kubeconfig?: string;
  nodeName?: string;
}

/**
 * This node's zone from its Kubernetes Node's topology.kubernetes.io/zone label (the older
 * failure-domain label too), read once at start when the agent reaches the API as its enricher
 * would (--kubernetes on, or auto in a pod or with --kubeconfig); '' when not, with a warning
 * saying why. --zone, when given, is used instead.
 */
export async function kubernetesZone(o: ZoneSource, log: Logger, timeoutMs = 10_000): Promise<string> {
  const wanted = o.kubernetes === 'on' || (o.kubernetes === 'auto' && (o.kubeconfig !== undefined || process.env.KUBERNETES_SERVICE_HOST !== undefined));
  if (!wanted || !o.nodeName) return '';
  const nodeName = o.nodeName;
  try {
    const [{ loadKubeConfig }, { trimNode }, { CoreV1Api }] = await Promise.all([import('../agent/enrich/k8s.js'), import('../agent/enrich/k8s-index.js'), import('@kubernetes/client-node')]);
    const api = loadKubeConfig(o.kubeconfig).makeApiClient(CoreV1Api);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer in ${timeoutMs / 1000} s`)), timeoutMs)));
    const list = await Promise.race([api.listNode({ fieldSelector: `metadata.name=${nodeName}` }), timeout]).finally(() => clearTimeout(timer));
    const node = list.items.find((n) => n.metadata?.name === nodeName);
    if (!node) {
      log.warn({ node: nodeName }, `the Kubernetes API has no node ${nodeName}: the hub gets no zone for this node (set --node-name to the node's name, or give --zone)`);
      return '';
    }
    const zone = trimNode(node).rec.zone;
    if (zone) log.info({ node: nodeName, zone }, "zone from the Kubernetes node's topology.kubernetes.io/zone label");
    return zone;
  } catch (err) {
    log.warn({ err: (err as Error).message, node: nodeName }, `the zone could not be read from the Kubernetes API (${(err as Error).message}): the hub gets none for this node (give --zone)`);
    return '';
  }
}
