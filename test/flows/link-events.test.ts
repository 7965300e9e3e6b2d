// The link event watcher on the real kernel: its messages decode to what `ip link` shows, an
// overrun (the kernel dropping events on a full socket buffer) is counted and repaired by a dump,
// and the polling fallback sees the same links.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { native } from '../../src/bpf/native.js';
import { ARPHRD, IFF_UP, LinkMessage, NLMSG_DONE, OPERSTATES, RTM_NEWLINK, arphrdOf, forEachLinkMessage } from '../../src/bpf/netlink-messages.js';
import { LinkTable } from '../../src/agent/flows/link-events-table.js';
import { NetlinkLinkSource, PolledLinkSource } from '../../src/agent/flows/link-events-source.js';
import { sh, sleep, waitFor } from '../support/run.js';
import { uniqueName } from '../support/netns.js';

interface IpLink {
  ifindex: number;
  ifname: string;
  flags: string[];
  mtu: number;
  operstate: string;
  link_type: string;
}

function ipLinks(): IpLink[] {
  return JSON.parse(sh('ip', ['-j', 'link', 'show'])) as IpLink[];
}

/** A table of this namespace's links whose name starts with `prefix`, kept by whatever source feeds it. */
function prefixTable(prefix: string): { table: LinkTable; names: Set<string> } {
  const names = new Set<string>();
  const table = new LinkTable({
    up: (l, prev) => {
      if (prev) names.delete(prev.name);
      if (l.name.startsWith(prefix)) names.add(l.name);
    },
    down: (l) => names.delete(l.name),
  });
  return { table, names };
}

const sorted = (s: Iterable<string>): string => [...s].sort().join(' ');

test('a link event read through the watcher decodes to what ip link shows', async () => {
  const name = uniqueName('fsld');
  const messages: LinkMessage[] = [];
  const keep = (buf: Buffer): void => forEachLinkMessage(buf, (m) => messages.push(Object.assign(new LinkMessage(), m)));
  const watcher = new (native().NativeLinkWatcher)((b) => {
    if (b) keep(b);
    watcher.ack();
  }, {});
  try {
    const initial: LinkMessage[] = [];
    forEachLinkMessage(watcher.takeInitial(), (m) => initial.push(Object.assign(new LinkMessage(), m)));
    assert.equal(initial.at(-1)!.type, NLMSG_DONE, 'the start-up dump ends with NLMSG_DONE');
    const lo = initial.find((m) => m.type === RTM_NEWLINK && m.name === 'lo')!;
    assert.equal(lo.linkType, ARPHRD.LOOPBACK);
    assert.equal(lo.ifindex, ipLinks().find((l) => l.ifname === 'lo')!.ifindex);

    sh('ip', ['link', 'add', name, 'mtu', '1280', 'type', 'veth', 'peer', 'name', `${name.slice(0, 14)}p`]);
    await waitFor(() => messages.some((m) => m.type === RTM_NEWLINK && m.name === name), 2000, `RTM_NEWLINK for ${name}`, 5);
    await sleep(100); // the last word on its state
    const ip = ipLinks().find((l) => l.ifname === name)!;
    const m = messages.filter((x) => x.type === RTM_NEWLINK && x.ifindex === ip.ifindex && x.family === 0).at(-1)!;
    assert.equal(m.name, ip.ifname);
    assert.equal(m.mtu, ip.mtu);
    assert.equal(m.linkType, arphrdOf(ip.link_type));
    assert.equal(OPERSTATES[m.operstate], ip.operstate);
    assert.equal((m.ifFlags & IFF_UP) !== 0, ip.flags.includes('UP'));
    assert.equal((m.ifFlags & 0x2) !== 0, ip.flags.includes('BROADCAST'));
    assert.equal((m.ifFlags & 0x1000) !== 0, ip.flags.includes('MULTICAST'));
  } finally {
    watcher.close();
    sh('ip', ['link', 'del', name], { allowFail: true });
  }
});

test('an overrun (events dropped on a full socket buffer) is counted, and a dump repairs the table', async () => {
  const prefix = uniqueName('fslo').slice(0, 9);
  const pairs = 40;
  const dir = mkdtempSync(join(tmpdir(), 'fs-links-'));
  const batch = (lines: string[], allowFail = false): void => {
    writeFileSync(join(dir, 'batch'), `${lines.join('\n')}\n`);
    // Synchronous: the event loop cannot take batches meanwhile, so the watcher thread (one batch
    // outstanding at most here) stops reading and the 4 KiB socket buffer overflows.
    sh('ip', ['-force', '-batch', join(dir, 'batch')], { allowFail });
  };
  const { table, names } = prefixTable(prefix);
  let failure: string | undefined;
  const source = new NetlinkLinkSource(table, { onFailure: (why) => (failure = why), native: { rcvbufBytes: 4096, maxPendingBatches: 1 } });
  const ours = (): string => sorted(ipLinks().map((l) => l.ifname).filter((n) => n.startsWith(prefix)));
  try {
    const before = source.status().overruns;
    batch(Array.from({ length: pairs }, (_, i) => `link add ${prefix}${i}a type veth peer name ${prefix}${i}b`));
    await waitFor(() => source.status().overruns > before && sorted(names) === ours(), 5000, 'an overrun, then the table agrees with ip link');
    assert.equal(names.size, 2 * pairs);
    const mid = source.status();
    assert.ok(mid.resyncs >= 1, 'a dump after the overrun');

    batch(Array.from({ length: pairs }, (_, i) => `link del ${prefix}${i}a`));
    await waitFor(() => source.status().overruns > mid.overruns && names.size === 0, 5000, 'an overrun, then every link gone from the table');
    assert.equal(failure, undefined);
    console.log(`# overruns ${source.status().overruns}, resyncs ${source.status().resyncs}`);
  } finally {
    source.close();
    batch(Array.from({ length: pairs }, (_, i) => `link del ${prefix}${i}a`), true); // what is left after a failure
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the polling fallback sees links appear and go', () => {
  const prefix = uniqueName('fslp').slice(0, 10);
  const { table, names } = prefixTable(prefix);
  const source = new PolledLinkSource(table, 'test');
  try {
    assert.equal(names.size, 0);
    sh('ip', ['link', 'add', `${prefix}a`, 'type', 'veth', 'peer', 'name', `${prefix}b`]);
    source.tick();
    assert.equal(sorted(names), `${prefix}a ${prefix}b`);
    const a = [...table.values()].find((l) => l.name === `${prefix}a`)!;
    assert.equal(a.type, ARPHRD.ETHER);
    assert.equal(a.ifindex, ipLinks().find((l) => l.ifname === `${prefix}a`)!.ifindex);
    sh('ip', ['link', 'del', `${prefix}a`]);
    source.tick();
    assert.equal(names.size, 0);
    assert.equal(source.status().fallback, 'test');
  } finally {
    sh('ip', ['link', 'del', `${prefix}a`], { allowFail: true });
  }
});

test('the periodic dump removes a link whose deletion no event told', async () => {
  const { table, names } = prefixTable('fsghost');
  const source = new NetlinkLinkSource(table, { resyncMs: 60_000, onFailure: () => undefined });
  try {
    table.upsert(0x7ffffff0, 'fsghost0', ARPHRD.ETHER); // known to us, not to the kernel
    source.tick(Date.now());
    assert.equal(source.status().resyncs, 0, 'not due yet');
    assert.equal(names.size, 1);
    source.tick(Date.now() + 60_000);
    assert.equal(source.status().resyncs, 1);
    await waitFor(() => names.size === 0, 2000, 'the phantom link swept by the dump', 5);
    assert.ok(table.get(1), 'lo stays');
  } finally {
    source.close();
  }
});
