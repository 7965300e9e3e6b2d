// The hub's server-sent events, read with fetch (EventSource cannot send the bearer token) and
// parsed with eventsource-parser; reconnects with backoff after the hub went away.
import { createParser } from 'eventsource-parser';
import type { StreamInterval } from '../logic/api-types.js';
import { authHeaders, HubError, query, type Params } from './api.js';

export interface StreamHandlers {
  onInterval(ev: StreamInterval): void;
  onState(state: 'connecting' | 'open' | 'closed', error?: HubError | Error): void;
}

const MAX_BACKOFF_MS = 30_000;

export function openStream(params: Params, h: StreamHandlers): () => void {
  const abort = new AbortController();
  let retryMs = 2000;
  let failures = 0;
  const run = async (): Promise<void> => {
    while (!abort.signal.aborted) {
      h.onState('connecting');
      try {
        const res = await fetch(`/api/v1/stream?${query(params)}`, { headers: { accept: 'text/event-stream', ...authHeaders() }, signal: abort.signal, cache: 'no-store' });
        if (!res.ok || !res.body) {
          const text = await res.text().catch(() => '');
          let message = `the stream answered ${res.status}`;
          try {
            message = (JSON.parse(text) as { error?: string }).error ?? message;
          } catch {
            // not JSON
          }
          throw new HubError(res.status, message);
        }
        failures = 0;
        h.onState('open');
        const parser = createParser({
          onEvent: (m) => {
            if (m.event !== 'interval') return;
            try {
              h.onInterval(JSON.parse(m.data) as StreamInterval);
            } catch {
              // A malformed event is skipped; the next full refresh repairs the picture.
            }
          },
          onRetry: (ms) => {
            retryMs = Math.max(500, Math.min(ms, MAX_BACKOFF_MS));
          },
        });
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          parser.feed(value);
        }
        h.onState('closed');
      } catch (err) {
        if (abort.signal.aborted) return;
        h.onState('closed', err as Error);
        if (err instanceof HubError && err.status === 401) return;
        failures++;
      }
      const wait = Math.min(MAX_BACKOFF_MS, retryMs * 2 ** Math.min(failures, 4)) * (0.5 + Math.random() / 2);
      await new Promise((r) => setTimeout(r, wait));
    }
  };
  void run();
  return () => abort.abort();
}
