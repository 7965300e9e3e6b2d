// Where the link table's news comes from: netlink link events (native/netlink.cc) with a dump now
// and then to repair lost events, or, where no netlink socket can be had, polling.
import { execFileSync } from 'node:child_process';
import { openLinkWatcher, type LinkWatcher, type LinkWatcherOptions } from '../../bpf/netlink.js';
import { devNames } from '../../lib/procnet.js';
import { commandIn } from '../../lib/netns.js';
import { errnoName } from '../../bpf/errors.js';
import { AF_UNSPEC, ENOBUFS, arphrdOf, LinkMessage, NLMSG_DONE, NLMSG_ERROR, NLM_F_DUMP_INTR, RTM_DELLINK, RTM_NEWLINK, forEachLinkMessage } from '../../bpf/netlink-messages.js';
import type { LinkTable } from './link-events-table.js';

export interface LinkSourceStatus {
  source: 'netlink' | 'poll';
  /** netlink: how often a dump checks the events anyway (ms). */
  resyncMs?: number;
  /** netlink: times the kernel dropped link events because our socket's buffer was full. */
  overruns: number;
  /** netlink: dumps after start-up (periodic, after overruns, after interrupted dumps). */
  resyncs: number;
  /** poll: why netlink is not used. */
  fallback?: string;
}

export interface LinkSource {
  /** Called every agent interval. */
  tick(nowMs: number): void;
  status(): LinkSourceStatus;
  close(): void;
}

/** A dump without NLMSG_DONE after this long is given up (and asked for again). */
const DUMP_STUCK_MS = 10_000;

export interface NetlinkLinkSourceOptions {
  /** A dump every so often even when events say nothing (default 60 s). */
  resyncMs?: number;
  /** The watcher thread stopped: the caller should switch to another source. */
  onFailure: (reason: string) => void;
  native?: LinkWatcherOptions;
  /** The link events of this network namespace (e.g. /run/netns/NAME) instead of ours. */
  netns?: string;
}

export class NetlinkLinkSource implements LinkSource {
  private readonly handle: LinkWatcher;
  private readonly msg = new LinkMessage();
  private readonly resyncMs: number;
  private dumping = true;
  /** The running dump's sequence number (undefined: the start-up dump's, whichever). */
  private dumpSeq: number | undefined;
  private dumpWanted = false;
  private interrupted = false;
  private lastDumpMs = Date.now();
  private resyncs = 0;
  private closed = false;
  private overrunsAtClose = 0;

  /** Reads the start-up dump into `table` before returning. Throws when no netlink socket can be had. */
  constructor(
    private readonly table: LinkTable,
    private readonly options: NetlinkLinkSourceOptions,
  ) {
    this.resyncMs = options.resyncMs ?? 60_000;
    this.handle = openLinkWatcher((b, err) => this.onBatch(b, err), { ...options.native, ...(options.netns !== undefined ? { netnsPath: options.netns } : {}) });
    try {
      table.beginListing();
      this.onMessages(this.handle.takeInitial());
      if (this.handle.stats().overruns > 0) this.resync();
    } catch (err) {
      this.close();
      throw err;
    }
  }

  tick(nowMs: number): void {
    if (this.dumping && nowMs - this.lastDumpMs > DUMP_STUCK_MS) this.dumping = false;
    if (this.dumpWanted || nowMs - this.lastDumpMs >= this.resyncMs) this.resync();
  }

  /** Asks for a full listing (after the one running, if any). */
  resync(): void {
    if (this.closed) return;
    if (this.dumping) {
      this.dumpWanted = true;
      return;
    }
    this.dumpWanted = false;
    this.interrupted = false;
    this.lastDumpMs = Date.now();
    this.resyncs++;
    this.table.beginListing();
    try {
      this.dumpSeq = this.handle.dump();
      this.dumping = true;
    } catch {
      this.dumpWanted = true; // next interval
    }
  }

  status(): LinkSourceStatus {
    return { source: 'netlink', resyncMs: this.resyncMs, overruns: this.closed ? this.overrunsAtClose : this.handle.stats().overruns, resyncs: this.resyncs };
  }

  private onBatch(batch: Buffer | null, err: number): void {
    if (this.closed) return;
    if (batch) {
      try {
        this.onMessages(batch);
      } finally {
        this.handle.ack();
      }
    } else if (err === ENOBUFS) {
      this.resync();
    } else {
      this.close();
      this.options.onFailure(`the netlink link event thread stopped (${errnoName(err)})`);
    }
  }

  private onMessages(buf: Buffer): void {
    forEachLinkMessage(
      buf,
      (m) => {
        if (m.flags & NLM_F_DUMP_INTR) this.interrupted = true;
        switch (m.type) {
          case RTM_NEWLINK:
            // Other families (AF_BRIDGE) describe a bridge port, not the device: a port leaving its
            // bridge is an AF_BRIDGE RTM_DELLINK while the device stays.
            if (m.family === AF_UNSPEC && m.name) this.table.upsert(m.ifindex, m.name, m.linkType);
            break;
          case RTM_DELLINK:
            if (m.family === AF_UNSPEC) this.table.remove(m.ifindex);
            break;
          case NLMSG_DONE:
          case NLMSG_ERROR:
            if (this.dumpSeq === undefined || m.seq === this.dumpSeq) this.endDump(m.type === NLMSG_DONE && m.error === 0);
            break;
        }
      },
      this.msg,
    );
  }

  private endDump(succeeded: boolean): void {
    if (!this.dumping) return;
    this.dumping = false;
    const complete = succeeded && !this.interrupted;
    this.table.endListing(complete);
    if (!succeeded) this.dumpWanted = true; // EBUSY and the like: again next interval
    else if (this.interrupted || this.dumpWanted) this.resync();
  }

  close(): void {
    if (this.closed) return;
    this.overrunsAtClose = this.handle.stats().overruns;
    this.closed = true;
    this.handle.close();
  }
}

/** Polls that many intervals at most without asking `ip` (a device re-created under the same name). */
const FULL_POLL_EVERY = 10;

interface IpLink {
  ifindex: number;
  ifname: string;
  link_type?: string;
}

/**
 * The fallback: the names in /proc/self/net/dev every interval (this process's network namespace),
 * and when they change, and every few intervals anyway, indexes and types from `ip -j link`.
 * At most one interval late. For another namespace (`netns`), `ip -j link` in it every interval.
 */
export class PolledLinkSource implements LinkSource {
  private lastNames = '';
  private polls = 0;

  constructor(
    private readonly table: LinkTable,
    private readonly reason: string,
    private readonly netns?: string,
  ) {
    this.tick();
  }

  tick(): void {
    const names = this.netns === undefined ? devNames().join(' ') : '';
    if (this.netns === undefined && names === this.lastNames && ++this.polls % FULL_POLL_EVERY !== 0) return;
    const links = listLinks(this.netns);
    if (!links) return; // no `ip`: again next interval
    this.lastNames = names;
    this.table.beginListing();
    for (const l of links) this.table.upsert(l.ifindex, l.ifname, arphrdOf(l.link_type));
    this.table.endListing(true);
  }

  status(): LinkSourceStatus {
    return { source: 'poll', overruns: 0, resyncs: 0, fallback: this.reason };
  }

  close(): void {}
}


function listLinks(netns: string | undefined): IpLink[] | undefined {
  try {
    const [cmd, args] = commandIn(netns, 'ip', ['-j', 'link', 'show']);
    return JSON.parse(execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 })) as IpLink[];
  } catch {
    return undefined;
  }
}
