// Positions for what the map shows: a full layered layout the first time (and for a new view), and
// after that only new nodes placed (placement.ts), so nothing that was on screen moves by itself.
import { useEffect, useRef, useState } from 'react';
import type { VisibleGraph } from '../logic/grouping.js';
import { place, type Positions } from '../logic/placement.js';
import { elkLayout } from './layout.js';

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
  const [placed, setPlaced] = useState<Placed | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const [relayoutTick, setRelayoutTick] = useState(0);
  const lastReset = useRef(resetKey);

  useEffect(() => {
    if (!vis) return;
    if (lastReset.current !== resetKey) {
      lastReset.current = resetKey;
      prev.current = null;
    }
    const gen = ++generation.current;
    place(vis, prev.current, store.current, elkLayout).then(
      (r) => {
        if (gen !== generation.current) return;
        prev.current = vis;
        setError(null);
        setPlaced({ vis, positions: r.positions, mode: r.mode, generation: gen });
      },
      (err: unknown) => {
        if (gen === generation.current) setError(err as Error);
      },
    );
  }, [vis, resetKey, relayoutTick]);

  const relayout = (): void => {
    prev.current = null;
    store.current.clear();
    setRelayoutTick((t) => t + 1);
  };
  return { placed, store: store.current, relayout, error };
}
