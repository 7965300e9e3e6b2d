// The same edges as a table, for people who read rather than look: real table markup with column
// headers, sort buttons in the headers (aria-sort says the order), a filter box, and a live region
// that says what is shown. Every row opens the edge's details.
import { useMemo, useState } from 'react';
import { EDGE_COLUMNS, filterRows, isColumn, sortRows, type ColumnKey, type EdgeRow } from '../logic/table.js';
import * as fmt from '../logic/format.js';

export interface TableProps {
  rows: EdgeRow[];
  sort: string;
  desc: boolean;
  query: string;
  selected: string | null;
  onSort(key: string, desc: boolean): void;
  onQuery(q: string): void;
  onSelect(id: string): void;
}

const PAGE = 200;

function cell(r: EdgeRow, key: ColumnKey): string {
  switch (key) {
    case 'bytes_sent':
    case 'bytes_received':
      return fmt.bytes(r[key]);
    case 'rtt_p99_seconds':
    case 'connect_p99_seconds':
      return fmt.seconds(r[key]);
    case 'connections':
    case 'failures':
    case 'resets':
    case 'retransmits':
      return fmt.count(r[key]);
    default:
      return String(r[key]);
  }
}

export function TableView(props: TableProps) {
  const [limit, setLimit] = useState(PAGE);
  const sortKey: ColumnKey = isColumn(props.sort) ? props.sort : 'connections';
  const rows = useMemo(() => sortRows(filterRows(props.rows, props.query), sortKey, props.desc), [props.rows, props.query, sortKey, props.desc]);
  const label = EDGE_COLUMNS.find((c) => c.key === sortKey)?.label ?? sortKey;
  const shown = rows.slice(0, limit);
  return (
    <section className="table-view" aria-label="Edges as a table">
      <div className="table-tools">
        <label>
          Filter rows{' '}
          <input type="search" value={props.query} onChange={(e) => props.onQuery(e.target.value)} placeholder="name, port, health…" aria-describedby="table-summary" />
        </label>
        <p id="table-summary" role="status" aria-live="polite">
          {rows.length} of {props.rows.length} edges, sorted by {label}, {props.desc ? 'descending' : 'ascending'}.
        </p>
      </div>
      <div className="table-scroll">
        <table className="edges" data-testid="edge-table">
          <caption className="visually-hidden">Edges of the map: client, server, port and their counters in the chosen window</caption>
          <thead>
            <tr>
              {EDGE_COLUMNS.map((c) => (
                <th key={c.key} scope="col" aria-sort={c.key === sortKey ? (props.desc ? 'descending' : 'ascending') : 'none'} className={c.numeric ? 'num' : undefined}>
                  <button type="button" onClick={() => props.onSort(c.key, c.key === sortKey ? !props.desc : c.numeric)}>
                    {c.label}
                    <span aria-hidden="true">{c.key === sortKey ? (props.desc ? ' ▼' : ' ▲') : ''}</span>
                  </button>
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {shown.map((r) => (
              <tr key={r.id} data-edge-id={r.id} className={`${r.id === props.selected ? 'selected' : ''} health-row-${r.health}`} aria-selected={r.id === props.selected}>
                {EDGE_COLUMNS.map((c, i) =>
                  i === 0 ? (
                    <th key={c.key} scope="row">
                      <button type="button" className="link" onClick={() => props.onSelect(r.id)} aria-label={`Details of ${r.source} to ${r.target} port ${r.port}`}>
                        {r.source}
                      </button>
                    </th>
                  ) : (
                    <td key={c.key} className={c.numeric ? 'num' : undefined}>
                      {cell(r, c.key)}
                    </td>
                  ),
                )}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {rows.length > shown.length ? (
        <button type="button" onClick={() => setLimit((l) => l + PAGE)}>
          Show {Math.min(PAGE, rows.length - shown.length)} more of {rows.length - shown.length}
        </button>
      ) : null}
    </section>
  );
}
