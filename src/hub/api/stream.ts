// GET /api/v1/stream: server-sent events with the graph's per-interval changes, in the view (and
// filter) the client asked for. Every flush sends one `interval` event: the edges that carried
// traffic since the previous one, with their counts for that time, and their nodes. A client too
// slow to read loses intervals (counted) rather than holding memory.
import type { ServerResponse } from 'node:http';
import { buildViewGraph, toGraph } from '../graph/graph.js';
import type { Filter } from '../graph/filter.js';
import { viewName, type View } from '../graph/views.js';
import type { EdgeTotals } from '../store/store.js';

interface Client {
  res: ServerResponse;
  view: View;
  filter: Filter | undefined;
}

/** Bytes queued for one client before its intervals are dropped. */
const MAX_BUFFERED = 4 << 20;

export class StreamHub {
  private readonly clients = new Set<Client>();
  private pending: EdgeTotals[] = [];
  private pendingFrom = Infinity;
  private pendingTo = 0;
  private readonly timers: NodeJS.Timeout[] = [];
  droppedEvents = 0;
  sequence = 0;

  constructor(
    flushMs = 1000,
    private readonly onClients: (n: number) => void = () => undefined,
  ) {
    this.timers.push(setInterval(() => this.flush(), flushMs).unref());
    this.timers.push(setInterval(() => this.keepAlive(), 15_000).unref());
  }

  get size(): number {
    return this.clients.size;
  }

  subscribe(res: ServerResponse, view: View, filter: Filter | undefined, headers: Record<string, string>): void {
    res.writeHead(200, { ...headers, 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    const client: Client = { res, view, filter };
    this.clients.add(client);
    this.onClients(this.clients.size);
    res.write(`retry: 2000\nevent: hello\ndata: ${JSON.stringify({ view: viewName(view), sequence: this.sequence })}\n\n`);
    res.on('close', () => {
      this.clients.delete(client);
      this.onClients(this.clients.size);
    });
  }

  /** Edges' counters for [from, to] (ms): sent at the next flush. */
  publish(totals: EdgeTotals[], from: number, to: number): void {
    if (this.clients.size === 0) return;
    for (const t of totals) this.pending.push(t);
    this.pendingFrom = Math.min(this.pendingFrom, from);
    this.pendingTo = Math.max(this.pendingTo, to);
  }

  flush(): void {
    if (this.pending.length === 0 || this.clients.size === 0) {
      this.pending = [];
      return;
    }
    const totals = this.pending;
    const from = this.pendingFrom;
    const to = this.pendingTo;
    this.pending = [];
    this.pendingFrom = Infinity;
    this.pendingTo = 0;
    this.sequence++;
    // Clients that share a view and filter share the work.
    const rendered = new Map<string, string>();
    for (const c of this.clients) {
      const key = `${viewName(c.view)}\u0000${c.filter ? String(c.filter.text) : ''}`;
      let text = rendered.get(key);
      if (text === undefined) {
        const g = toGraph(buildViewGraph(totals, c.view, c.filter), from, to);
        text = g.edges.length ? `id: ${this.sequence}\nevent: interval\ndata: ${JSON.stringify({ sequence: this.sequence, ...g })}\n\n` : '';
        rendered.set(key, text);
      }
      if (!text) continue;
      if (c.res.writableLength > MAX_BUFFERED) {
        this.droppedEvents++;
        continue;
      }
      c.res.write(text);
    }
  }

  private keepAlive(): void {
    for (const c of this.clients) c.res.write(': keep-alive\n\n');
  }

  close(): void {
    for (const t of this.timers) clearInterval(t);
    for (const c of this.clients) c.res.end();
    this.clients.clear();
  }
}
