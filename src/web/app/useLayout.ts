// Positions for what the map shows: a full layered layout the first time (and for a new view), and
// after that only new nodes placed (placement.ts), so nothing that was on screen moves by itself.
// Placements run one at a time: an update that arrives while one is being computed waits for it
// and is then placed against it (never against an older picture, which would lay out afresh).
import { useEffect, useRef, useState } from 'react';
import type { VisibleGraph } from '../logic/grouping.js';
import { place, type Positions } from '../logic/placement.js';
import { elkLayout } from './layout.js';
import { notePlacement, setMapStatus } from './debug.js';

export interface Placed {
  vis: VisibleGraph;
  positions: Positions;
  mode: 'full' | 'incremental';
  generation: number;
}

export function useLayout(vis: VisibleGraph | null, resetKey: string): { placed: Placed | null; store: Positions; relayout: () => void; error: Error | null } {
  const store = useRef<Positions>(new Map());
  const prev = useRef<VisibleGraph | null>(null);
  const generation = useRef(0);
  const running = useRef(false);
  const queued = useRef<VisibleGraph | null>(null);
  const fresh = useRef(false);
  const lastReset = useRef(resetKey);
  const mounted = useRef(true);
  const [placed, setPlaced] = useState<Placed | null>(null);
  const [error, setError] = useState<Error | null>(null);

  const run = (v: VisibleGraph): void => {
    running.current = true;
    setMapStatus({ busy: true });
    if (fresh.current) {
      fresh.current = false;
      prev.current = null;
      store.current.clear();
    }
    const gen = ++generation.current;
    place(v, prev.current, store.current, elkLayout)
      .then(
        (r) => {
          prev.current = v;
          notePlacement({ generation: gen, mode: r.mode, placed: r.placed.length, moved: r.moved.length });
          if (!mounted.current) return;
          setError(null);
          setPlaced({ vis: v, positions: r.positions, mode: r.mode, generation: gen });
        },
        (err: unknown) => {
          if (mounted.current) setError(err as Error);
        },
      )
      .finally(() => {
        running.current = false;
        const next = queued.current;
        queued.current = null;
        if (next && mounted.current) run(next);
        else setMapStatus({ busy: false });
      });
  };

  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
    };
  }, []);

  useEffect(() => {
    if (!vis) return;
    if (lastReset.current !== resetKey) {
      lastReset.current = resetKey;
      // A new view: its nodes are all new anyway; positions of the old one are not kept.
      fresh.current = true;
    }
    if (running.current) queued.current = vis;
    else run(vis);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [vis, resetKey]);

  const relayout = (): void => {
    fresh.current = true;
    if (!prev.current) return;
    if (running.current) queued.current = prev.current;
    else run(prev.current);
  };
  return { placed, store: store.current, relayout, error };
}
