// The agent's options for the hub and for standing as one node of several on one kernel:
// --hub, --hub-token-file, --hub-ca-file, --hub-cert-file/--hub-key-file, --hub-basic-auth-file,
// --netns, --zone (with --node-name).
import { readFileSync, readlinkSync, statSync, statfsSync } from 'node:fs';
import { basename } from 'node:path';
import type { Command } from 'commander';
import type { AgentOptions } from '../agent/agent.js';
import { UsageError } from './errors.js';
import { readTokenFile } from './hub.js';
import { readSecretFile } from '../lib/secret-file.js';

export interface AgentHubFlags {
  hub?: string;
  hubTokenFile?: string;
  hubCaFile?: string;
  hubCertFile?: string;
  hubKeyFile?: string;
  hubBasicAuthFile?: string;
  netns?: string;
  zone?: string;
}

export function addAgentHubOptions(cmd: Command): Command {
  return cmd
    .option('--hub <url>', 'send each interval\'s edges to a hub (e.g. http://hub:4040): buffered while it is away, resent without double counting')
    .option('--hub-token-file <path>', "the hub's bearer token (the hub's --token-file)")
    .option('--hub-ca-file <path>', "CA certificate(s) (PEM) that signed the hub's certificate, for an https:// hub (default: the system's)")
    .option('--hub-cert-file <path>', "this agent's client certificate (PEM), for a hub that asks for one (with --hub-key-file)")
    .option('--hub-key-file <path>', 'the key of --hub-cert-file (PEM)')
    .option('--hub-basic-auth-file <path>', "USER:PASSWORD for a hub with basic_auth_users in its --web.config.file (a file readable only by root)")
    .option('--netns <path>', 'observe only this network namespace (e.g. /run/netns/NAME): its connections, and flows, drops and DNS on its interfaces; with --node-name and --zone, one agent per namespace stands for one node')
    .option('--zone <zone>', "this node's zone (default: none; on Kubernetes nodes the topology.kubernetes.io/zone label)");
}

/** nsfs: where namespace files live (a /proc/PID/ns link, or a bind mount of one as ip netns makes). */
const NSFS_MAGIC = 0x6e736673;

/** What a /proc/PID/ns/* link says it is ("net", "mnt"...); undefined for other paths (bind mounts say nothing). */
function procNamespaceKind(path: string): string | undefined {
  try {
    return /^(\w+):\[\d+\]$/.exec(readlinkSync(path))?.[1];
  } catch {
    return undefined;
  }
}

/** The network namespace's inode: what the kernel reports for each connection. */
function netnsInode(path: string): number {
  const hint = '(use /run/netns/NAME from ip netns, or /proc/PID/ns/net)';
  try {
    const st = statSync(path);
    if (statfsSync(path).type !== NSFS_MAGIC) throw new UsageError(`--netns ${path} is not a namespace file ${hint}`);
    const kind = procNamespaceKind(path);
    if (kind !== undefined && kind !== 'net') throw new UsageError(`--netns ${path} is a ${kind} namespace, not a network one ${hint}`);
    return st.ino;
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`--netns ${path} cannot be read: ${(err as Error).message} ${hint}`);
  }
}

export function agentHubOptionsFrom(flags: AgentHubFlags, nodeName: string): Pick<AgentOptions, 'hub' | 'netns'> {
  const netns = flags.netns ? netnsInode(flags.netns) : undefined;
  for (const [flag, given] of [['--hub-token-file', flags.hubTokenFile], ['--hub-ca-file', flags.hubCaFile], ['--hub-cert-file', flags.hubCertFile], ['--hub-basic-auth-file', flags.hubBasicAuthFile]] as const) {
    if (given && !flags.hub) throw new UsageError(`${flag} needs --hub URL`);
  }
  if (Boolean(flags.hubCertFile) !== Boolean(flags.hubKeyFile)) throw new UsageError('--hub-cert-file and --hub-key-file go together');
  if (flags.hubTokenFile && flags.hubBasicAuthFile) throw new UsageError('--hub-token-file and --hub-basic-auth-file both go in the Authorization header: give the one the hub asks for');
  let hub: AgentOptions['hub'];
  if (flags.hub) {
    let url: URL;
    try {
      url = new URL(flags.hub);
    } catch {
      throw new UsageError(`--hub '${flags.hub}' is not a URL: use e.g. http://127.0.0.1:4040`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--hub '${flags.hub}': use an http:// or https:// URL`);
    if (url.username || url.password) throw new UsageError(`--hub '${url.host}': no credentials in the URL (command lines are visible to every user); use --hub-basic-auth-file`);
    if (url.protocol === 'http:' && (flags.hubCaFile || flags.hubCertFile)) throw new UsageError('--hub-ca-file and --hub-cert-file need an https:// hub URL');
    hub = {
      url: url.toString().replace(/\/+$/, ''),
      token: flags.hubTokenFile ? readTokenFile(flags.hubTokenFile, '--hub-token-file') : undefined,
      tls: hubTls(flags),
      basicAuth: flags.hubBasicAuthFile ? readBasicAuthFile(flags.hubBasicAuthFile) : undefined,
      agent: netns !== undefined ? `${nodeName}/${basename(flags.netns!)}` : nodeName,
      node: nodeName,
      zone: flags.zone ?? '',
    };
  }
  return { hub, netns };
}

/** A PEM file; a private key must not be readable by every user. */
function readPem(path: string, flag: string, secret = false): string {
  try {
    if (secret && (statSync(path).mode & 0o004) !== 0) throw new UsageError(`${flag} ${path} is readable by every user: chmod 600 ${path}`);
    return readFileSync(path, 'utf8');
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`${flag} ${path} cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

function hubTls(flags: AgentHubFlags): NonNullable<AgentOptions['hub']>['tls'] {
  if (!flags.hubCaFile && !flags.hubCertFile) return undefined;
  return {
    ...(flags.hubCaFile ? { ca: readPem(flags.hubCaFile, '--hub-ca-file') } : {}),
    ...(flags.hubCertFile ? { cert: readPem(flags.hubCertFile, '--hub-cert-file'), key: readPem(flags.hubKeyFile!, '--hub-key-file', true) } : {}),
  };
}

function readBasicAuthFile(path: string): { user: string; password: string } {
  let text: string;
  try {
    text = readSecretFile(path);
  } catch (err) {
    throw new UsageError(`--hub-basic-auth-file ${(err as Error).message}`);
  }
  const colon = text.indexOf(':');
  if (colon <= 0 || colon === text.length - 1) throw new UsageError(`--hub-basic-auth-file ${path} does not hold USER:PASSWORD on one line`);
  return { user: text.slice(0, colon), password: text.slice(colon + 1) };
}
