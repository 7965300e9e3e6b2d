// Real network namespaces and veth pairs for tests, with unique names and guaranteed clean-up.
import { randomBytes } from 'node:crypto';
import { sh } from './run.js';

export function uniqueName(prefix: string): string {
  // Interface names are limited to 15 characters.
  return `${prefix}${randomBytes(3).toString('hex')}`.slice(0, 15);
}

export interface VethPair {
  /** Host-side interface (in the root namespace). */
  host: string;
  /** Peer interface, moved into `ns`. */
  peer: string;
  ns: string;
  hostAddr: string;
  peerAddr: string;
  /** Runs a command inside the namespace. */
  exec(cmd: string, args: string[]): string;
  destroy(): void;
}

/**
 * A network namespace connected to the root namespace by a veth pair, addressed from 10.x (never
 * a real network). `subnet` is the third octet, so parallel fixtures do not collide.
 */
export function createVethNamespace(subnet = 100 + Math.floor(Math.random() * 100)): VethPair {
  const ns = uniqueName('fsns');
  const host = uniqueName('fsh');
  const peer = uniqueName('fsp');
  const hostAddr = `10.77.${subnet}.1`;
  const peerAddr = `10.77.${subnet}.2`;
  const destroy = (): void => {
    sh('ip', ['link', 'del', host], { allowFail: true });
    sh('ip', ['netns', 'del', ns], { allowFail: true });
  };
  try {
    sh('ip', ['netns', 'add', ns]);
    sh('ip', ['link', 'add', host, 'type', 'veth', 'peer', 'name', peer]);
    sh('ip', ['link', 'set', peer, 'netns', ns]);
    sh('ip', ['addr', 'add', `${hostAddr}/24`, 'dev', host]);
    sh('ip', ['link', 'set', host, 'up']);
    sh('ip', ['-n', ns, 'addr', 'add', `${peerAddr}/24`, 'dev', peer]);
    sh('ip', ['-n', ns, 'link', 'set', peer, 'up']);
    sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  } catch (err) {
    destroy();
    throw err;
  }
  return {
    host,
    peer,
    ns,
    hostAddr,
    peerAddr,
    exec: (cmd, args) => sh('ip', ['netns', 'exec', ns, cmd, ...args]),
    destroy,
  };
}
