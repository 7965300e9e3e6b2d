import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { repoPath } from '../lib/paths.js';
import { ARPHRD, LinkMessage, NLMSG_DONE, NLM_F_MULTI, OPERSTATES, RTM_DELLINK, RTM_NEWLINK, arphrdName, arphrdOf, forEachLinkMessage } from './netlink-messages.js';

// Captured from Linux 6.18 (x86_64, little-endian) through native/netlink.cc while
// `ip link add fsgold0 mtu 1400 type veth peer name fsgold1`, enslaving it to a bridge and back,
// and deleting it: RTM_NEWLINK, the bridge port's AF_BRIDGE RTM_NEWLINK and RTM_DELLINK,
// RTM_DELLINK, and the NLMSG_DONE of the start-up dump. `ip -j link show fsgold0` said then:
// ifindex 772, flags BROADCAST,MULTICAST, mtu 1400, operstate DOWN, link_type ether.
const captured = Buffer.from(readFileSync(repoPath('test/fixtures/netlink_links.hex'), 'utf8').replace(/\s+/g, ''), 'hex');

type Decoded = Omit<LinkMessage, 'seq'>;
function decodeAll(buf: Buffer): Decoded[] {
  const out: Decoded[] = [];
  forEachLinkMessage(buf, ({ type, flags, family, ifindex, linkType, ifFlags, name, operstate, mtu, error }) => {
    out.push({ type, flags, family, ifindex, linkType, ifFlags, name, operstate, mtu, error });
  });
  return out;
}

test('link messages captured from the kernel decode to what ip link said', () => {
  const link = { ifindex: 772, linkType: ARPHRD.ETHER, ifFlags: 0x2 | 0x1000, name: 'fsgold0', operstate: OPERSTATES.indexOf('DOWN'), mtu: 1400, error: 0 };
  assert.deepEqual(decodeAll(captured), [
    { type: RTM_NEWLINK, flags: 0, family: 0, ...link },
    { type: RTM_NEWLINK, flags: 0, family: 7, ...link },
    { type: RTM_DELLINK, flags: 0, family: 7, ...link },
    { type: RTM_DELLINK, flags: 0, family: 0, ...link },
    { type: NLMSG_DONE, flags: NLM_F_MULTI, family: 0, ifindex: 0, linkType: 0, ifFlags: 0, name: '', operstate: -1, mtu: 0, error: 0 },
  ]);
});

test('a truncated batch yields its whole messages and stops', () => {
  const first = captured.readUInt32LE(0);
  assert.equal(decodeAll(captured.subarray(0, first + 100)).length, 1);
  assert.equal(decodeAll(captured.subarray(0, 10)).length, 0);
});

test('one message object serves every message', () => {
  const seen = new Set<LinkMessage>();
  forEachLinkMessage(captured, (m) => seen.add(m));
  assert.equal(seen.size, 1);
});

test('link types: ARPHRD numbers and iproute2 names', () => {
  assert.equal(arphrdName(ARPHRD.NONE), 'none');
  assert.equal(arphrdName(ARPHRD.IP6GRE), 'ip6gre');
  assert.equal(arphrdName(801), 'ARPHRD 801');
  assert.equal(arphrdOf('ether'), ARPHRD.ETHER);
  assert.equal(arphrdOf('tunnel6'), ARPHRD.TUNNEL6);
  assert.equal(arphrdOf('[801]'), 801);
  assert.equal(arphrdOf('ieee802.11'), -1);
  assert.equal(arphrdName(arphrdOf(undefined)), 'unknown');
});
