// Netlink link events of this network namespace (native/netlink.cc): raw messages in batches from a
// thread of the addon; decoding lives in netlink-messages.ts.
import { native, type NativeLinkWatcher, type NativeLinkWatcherOptions } from './native.js';

export type LinkWatcher = NativeLinkWatcher;
export type LinkWatcherOptions = NativeLinkWatcherOptions;

/** Opens a netlink socket for link events and reads the start-up dump (throws when no socket can be had). */
export function openLinkWatcher(onBatch: (batch: Buffer | null, errno: number) => void, options: LinkWatcherOptions = {}): LinkWatcher {
  return new (native().NativeLinkWatcher)(onBatch, options);
}
