// The Alerts panel: the hub's active alerts (what, how bad, where, since when, and the top line of
// its explanation), each shown on the map on request and silenced for a while from here; and the
// silences in force, each expired from here. Silences change what receivers get, never a
// workload. Every name and sentence from the hub is rendered as text by React.
import { useEffect, useRef, useState } from 'react';
import type { AlertItem, SilenceItem } from '../logic/api-types.js';
import { activeSilences, alertSubject, alertTopLine, firingCount, matchersText, silenceFor, SILENCE_DURATIONS, type SilenceDuration } from '../logic/alerts.js';
import * as fmt from '../logic/format.js';
import { api, HubError } from './api.js';
import { requireToken } from './token.js';
import type { AlertsData } from './useAlerts.js';

export interface AlertsPanelProps {
  data: AlertsData;
  /** Whether the alert's edge is drawn on the map now. */
  onMap(a: AlertItem): boolean;
  onShow(a: AlertItem): void;
  onClose(): void;
}

export const ALERTS_PANEL_ID = 'alerts-panel';

function failed(err: unknown): string {
  if (err instanceof HubError && err.status === 401) requireToken();
  return (err as Error).message;
}

function ErrorLine({ error }: { error: string | null }) {
  return error ? (
    <p className="error" role="alert">
      {error}
    </p>
  ) : null;
}

function SilenceForm({ alert, onDone }: { alert: AlertItem; onDone(): void }) {
  const [open, setOpen] = useState(false);
  const [duration, setDuration] = useState<SilenceDuration>('1h');
  const [comment, setComment] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const id = `silence-${alert.id}`;
  if (!open)
    return (
      <button type="button" aria-expanded={false} aria-controls={id} onClick={() => setOpen(true)}>
        Silence…
      </button>
    );
  return (
    <form
      id={id}
      className="silence-form"
      aria-label={`Silence ${alert.name}`}
      onSubmit={(e) => {
        e.preventDefault();
        setBusy(true);
        setError('');
        api.silence(silenceFor(alert, duration, comment)).then(
          () => {
            setBusy(false);
            setOpen(false);
            setComment('');
            onDone();
          },
          (err: unknown) => {
            setBusy(false);
            setError(failed(err));
          },
        );
      }}
      onKeyDown={(e) => {
        if (e.key === 'Escape') {
          e.stopPropagation();
          setOpen(false);
        }
      }}
    >
      <label htmlFor={`${id}-for`}>for</label>{' '}
      <select id={`${id}-for`} value={duration} onChange={(e) => setDuration(e.target.value as SilenceDuration)}>
        {SILENCE_DURATIONS.map((d) => (
          <option key={d} value={d}>
            {d}
          </option>
        ))}
      </select>{' '}
      <label htmlFor={`${id}-comment`}>Comment</label>{' '}
      <input id={`${id}-comment`} value={comment} onChange={(e) => setComment(e.target.value)} maxLength={4096} size={16} placeholder="why, who is on it" />{' '}
      <button type="submit" disabled={busy}>
        Silence
      </button>{' '}
      <button type="button" onClick={() => setOpen(false)}>
        Cancel
      </button>
      <ErrorLine error={error} />
    </form>
  );
}

function AlertEntry({ alert, silences, onMap, onShow, onSilenced }: { alert: AlertItem; silences: readonly SilenceItem[]; onMap: boolean; onShow(): void; onSilenced(): void }) {
  const top = alertTopLine(alert);
  const by = silences.filter((s) => alert.silenced_by.includes(s.id));
  const until = by.reduce((latest, s) => (s.ends_at > latest ? s.ends_at : latest), '');
  return (
    <li className={`alert-item severity-${alert.severity}`} data-alert-id={alert.id} data-silenced={alert.silenced_by.length > 0 ? 'true' : 'false'}>
      <p className="alert-head">
        <span className={`severity severity-${alert.severity}`}>{alert.severity}</span>{' '}
        <button type="button" className="link alert-name" onClick={onShow} title={onMap ? 'Select and centre its edge on the map' : 'Its edge is not on the map: show it'}>
          {alert.name}
        </button>
        {alert.silenced_by.length ? <span className="silenced"> silenced{until ? ` until ${fmt.time(until)}` : ''}</span> : null}
      </p>
      <p className="subject">{alertSubject(alert)}</p>
      <p className="since">
        since {fmt.time(alert.starts_at)}
        {onMap ? '' : ' · not on the map in this view, window or filter'}
      </p>
      {top ? <p className="explanation">{top}</p> : null}
      {alert.silenced_by.length ? null : <SilenceForm alert={alert} onDone={onSilenced} />}
    </li>
  );
}

function SilenceEntry({ silence, onExpired }: { silence: SilenceItem; onExpired(): void }) {
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  return (
    <li data-silence-id={silence.id}>
      <p>
        <span className="kind">{silence.kind}</span> <code>{matchersText(silence)}</code>
      </p>
      <p className="since">
        until {fmt.time(silence.ends_at)}
        {silence.created_by ? ` · by ${silence.created_by}` : ''}
      </p>
      {silence.comment ? <p className="comment">{silence.comment}</p> : null}
      <button
        type="button"
        disabled={busy}
        aria-label={`Expire ${silence.kind} ${matchersText(silence)}`}
        onClick={() => {
          setBusy(true);
          api.expireSilence(silence.id).then(
            () => {
              setBusy(false);
              onExpired();
            },
            (err: unknown) => {
              setBusy(false);
              setError(failed(err));
            },
          );
        }}
      >
        Expire
      </button>
      <ErrorLine error={error} />
    </li>
  );
}

export function AlertsPanel({ data, onMap, onShow, onClose }: AlertsPanelProps) {
  const title = useRef<HTMLHeadingElement>(null);
  useEffect(() => title.current?.focus(), []);
  const alerts = data.alerts?.alerts ?? [];
  const pending = data.alerts?.pending ?? [];
  const silences = activeSilences(data.silences, Date.now());
  return (
    <aside
      id={ALERTS_PANEL_ID}
      className="alerts-panel"
      aria-labelledby="alerts-title"
      data-testid="alerts-panel"
      onKeyDown={(e) => {
        if (e.key === 'Escape') onClose();
      }}
    >
      <button type="button" className="close" onClick={onClose} aria-label="Close the alerts panel">
        ×
      </button>
      <h2 id="alerts-title" tabIndex={-1} ref={title}>
        Alerts
      </h2>
      <p className="muted" role="status">
        {data.alerts ? `${firingCount(data.alerts)} firing, ${pending.length} pending, ${silences.length} silence${silences.length === 1 ? '' : 's'} in force` : 'loading…'}
      </p>
      <ErrorLine error={data.error} />
      {alerts.length ? (
        <ul className="alert-list" aria-label="Active alerts">
          {alerts.map((a) => (
            <AlertEntry key={a.id} alert={a} silences={data.silences} onMap={onMap(a)} onShow={() => onShow(a)} onSilenced={data.reload} />
          ))}
        </ul>
      ) : data.alerts ? (
        <p className="muted">No alert is firing.</p>
      ) : null}
      {pending.length ? (
        <section>
          <h3>Pending</h3>
          <ul className="pending-list">
            {pending.map((p) => (
              <li key={`${p.family}|${p.subject}`}>
                <span className="subject">{p.subject}</span>: {p.signals.map((s) => `${s.signal} since ${fmt.time(s.since)}`).join(', ')}
              </li>
            ))}
          </ul>
        </section>
      ) : null}
      <section>
        <h3>Silences in force</h3>
        {silences.length ? (
          <ul className="silence-list" aria-label="Silences in force">
            {silences.map((s) => (
              <SilenceEntry key={s.id} silence={s} onExpired={data.reload} />
            ))}
          </ul>
        ) : (
          <p className="muted">None.</p>
        )}
      </section>
    </aside>
  );
}
