// The UI's state lives in the URL: read once at start, written back (replaceState) on every
// change, and read again when the user goes back or forward.
import { useCallback, useEffect, useRef, useState } from 'react';
import { formatState, parseState, type UiState } from '../logic/url-state.js';

export type StatePatch = Partial<UiState> | ((s: UiState) => Partial<UiState>);

export function useUrlState(): [UiState, (patch: StatePatch) => void] {
  const [state, setState] = useState<UiState>(() => parseState(window.location.search));
  const last = useRef(formatState(state));
  useEffect(() => {
    const text = formatState(state);
    if (text === last.current) return;
    last.current = text;
    window.history.replaceState(null, '', `${window.location.pathname}${text}`);
  }, [state]);
  useEffect(() => {
    const onPop = (): void => setState(parseState(window.location.search));
    window.addEventListener('popstate', onPop);
    return () => window.removeEventListener('popstate', onPop);
  }, []);
  const update = useCallback((patch: StatePatch) => {
    setState((s) => ({ ...s, ...(typeof patch === 'function' ? patch(s) : patch) }));
  }, []);
  return [state, update];
}
