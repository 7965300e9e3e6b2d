// The hub's alerts and silences, read every few seconds while the page is open (with the token, as
// every other read). A hub that runs no alerting answers 404: the page then shows no Alerts panel.
import { useCallback, useEffect, useState } from 'react';
import type { AlertsAnswer, SilenceItem } from '../logic/api-types.js';
import { api, HubError } from './api.js';
import { requireToken } from './token.js';

export interface AlertsData {
  alerts: AlertsAnswer | null;
  silences: SilenceItem[];
  /** null until the hub answered; false when it runs no alerting. */
  enabled: boolean | null;
  error: string | null;
  /** Reads both again now (after a silence was made or expired). */
  reload(): void;
}

const POLL_MS = 5000;

export function useAlerts(tokenVersion: number): AlertsData {
  const [data, setData] = useState<Omit<AlertsData, 'reload'>>({ alerts: null, silences: [], enabled: null, error: null });
  const [tick, setTick] = useState(0);
  const reload = useCallback(() => setTick((t) => t + 1), []);

  useEffect(() => {
    const abort = new AbortController();
    const load = (): void => {
      Promise.all([api.alerts(abort.signal), api.silences(abort.signal)]).then(
        ([alerts, silences]) => setData({ alerts, silences: silences.silences, enabled: true, error: null }),
        (err: unknown) => {
          if (abort.signal.aborted) return;
          if (err instanceof HubError && err.status === 404) {
            // Alerting is chosen when the hub starts: no use asking again until the page is reloaded.
            clearInterval(t);
            return setData({ alerts: null, silences: [], enabled: false, error: null });
          }
          if (err instanceof HubError && err.status === 401) requireToken();
          setData((d) => ({ ...d, error: (err as Error).message }));
        },
      );
    };
    const t = setInterval(load, POLL_MS);
    load();
    return () => {
      abort.abort();
      clearInterval(t);
    };
  }, [tokenVersion, tick]);

  return { ...data, reload };
}
