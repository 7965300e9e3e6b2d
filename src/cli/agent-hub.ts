// The agent's options for the hub and for standing as one node of several on one kernel:
// --hub, --hub-token-file, --netns, --zone (with --node-name).
import { statSync } from 'node:fs';
import { basename } from 'node:path';
import type { Command } from 'commander';
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
