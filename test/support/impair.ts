// Two hosts joined by a link with delay and loss. With netem (CONFIG_NET_SCH_NETEM): a veth pair and
// `tc qdisc ... netem`. Kernels without netem (this project's test machines among them) get the same
// from a tun link whose forwarder holds packets back (test/fixtures/netdelay.c): real TCP over a real
// delay either way.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { repoPath } from '../../src/lib/paths.js';
import { compileC } from './cbin.js';
import { sh } from './run.js';
import { createNamespacePair, uniqueName } from './netns.js';

export interface ImpairedLink {
  mechanism: 'netem' | 'tun';
  a: { ns: string; addr: string };
  b: { ns: string; addr: string };
  destroy(): Promise<void>;
}

let netem: boolean | undefined;

/** Whether this kernel has netem (tried for real on a scratch veth). */
export function hasNetem(): boolean {
  if (netem !== undefined) return netem;
  const dev = uniqueName('fsnq');
  sh('ip', ['link', 'add', dev, 'type', 'veth', 'peer', 'name', `${dev}p`]);
  try {
    sh('tc', ['qdisc', 'add', 'dev', dev, 'root', 'netem', 'delay', '1ms']);
    netem = true;
  } catch {
    netem = false;
  } finally {
    sh('ip', ['link', 'del', dev], { allowFail: true });
  }
  return netem;
}

let netdelayBin: string | undefined;

/** A link from namespace A to B with `delayMs` one way (A to B) and `lossPct` loss from A to B. */
export async function createImpairedLink(delayMs: number, lossPct = 0): Promise<ImpairedLink> {
  const subnet = 100 + Math.floor(Math.random() * 100);
  if (hasNetem()) {
    const pair = createNamespacePair(subnet);
    const args = ['delay', `${delayMs}ms`, ...(lossPct > 0 ? ['loss', `${lossPct}%`] : [])];
    sh('ip', ['netns', 'exec', pair.a.ns, 'tc', 'qdisc', 'add', 'dev', pair.a.dev, 'root', 'netem', ...args]);
    return { mechanism: 'netem', a: pair.a, b: pair.b, destroy: async () => pair.destroy() };
  }
  const nsA = uniqueName('fsda');
  const nsB = uniqueName('fsdb');
  const addrA = `10.89.${subnet}.1`;
  const addrB = `10.89.${subnet}.2`;
  let proc: ChildProcess | undefined;
  const destroy = async (): Promise<void> => {
    if (proc && proc.exitCode === null) {
      const closed = new Promise((r) => proc!.on('close', r));
      proc.kill('SIGTERM');
      await closed;
    }
    sh('ip', ['netns', 'del', nsA], { allowFail: true });
    sh('ip', ['netns', 'del', nsB], { allowFail: true });
  };
  try {
    sh('ip', ['netns', 'add', nsA]);
    sh('ip', ['netns', 'add', nsB]);
    netdelayBin ??= compileC('netdelay', readFileSync(repoPath('test/fixtures/netdelay.c'), 'utf8'));
    proc = spawn(netdelayBin, [nsA, nsB, String(delayMs), '0', String(lossPct)], { stdio: ['ignore', 'pipe', 'pipe'] });
    const [tunA, tunB] = await new Promise<[string, string]>((resolve, reject) => {
      let out = '';
      let err = '';
      proc!.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /ready (\S+) (\S+)/.exec(out);
        if (m) resolve([m[1]!, m[2]!]);
      });
      proc!.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      proc!.on('close', (code) => reject(new Error(`netdelay exited (${code}): ${err}`)));
    });
    for (const [ns, dev, local, peer] of [
      [nsA, tunA, addrA, addrB],
      [nsB, tunB, addrB, addrA],
    ] as const) {
      sh('ip', ['-n', ns, 'addr', 'add', local, 'peer', peer, 'dev', dev]);
      sh('ip', ['-n', ns, 'link', 'set', dev, 'up']);
      sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    }
  } catch (err) {
    await destroy();
    throw err;
  }
  return { mechanism: 'tun', a: { ns: nsA, addr: addrA }, b: { ns: nsB, addr: addrB }, destroy };
}
