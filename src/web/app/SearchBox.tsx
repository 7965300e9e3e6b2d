// Search by name, label or address: the nodes on hand first, then the hub's answer (nodes of other
// views too). A combobox: arrows move through the results, Enter picks, Escape closes.
import { useEffect, useId, useRef, useState } from 'react';
import type { GraphNode } from '../logic/api-types.js';
import { searchNodes } from '../logic/search.js';
import { api } from './api.js';

export interface SearchPick {
  id: string;
  name: string;
  kind: string;
  /** The view the id belongs to (from the hub); absent for nodes of the current graph. */
  view?: string;
}

interface Option extends SearchPick {
  match: string;
}

export function SearchBox({ nodes, onPick }: { nodes: readonly GraphNode[]; onPick(p: SearchPick): void }) {
  const [text, setText] = useState('');
  const [options, setOptions] = useState<Option[]>([]);
  const [active, setActive] = useState(0);
  const [open, setOpen] = useState(false);
  const listId = useId();
  const timer = useRef<ReturnType<typeof setTimeout>>(undefined);

  useEffect(() => {
    const q = text.trim();
    if (!q) {
      setOptions([]);
      return;
    }
    const local: Option[] = searchNodes(nodes, q, 12).map((h) => ({ id: h.id, name: h.name, kind: h.kind, match: h.match }));
    setOptions(local);
    setActive(0);
    const abort = new AbortController();
    clearTimeout(timer.current);
    timer.current = setTimeout(() => {
      api.search({ q, limit: 20 }, abort.signal).then(
        (ans) => {
          const seen = new Set(local.map((o) => o.id));
          const remote = ans.results.filter((r) => !seen.has(r.id)).map((r) => ({ id: r.id, name: r.name, kind: r.kind, view: r.view, match: `${r.match.field}: ${r.match.value}` }));
          setOptions([...local, ...remote].slice(0, 20));
        },
        () => undefined,
      );
    }, 200);
    return () => {
      abort.abort();
      clearTimeout(timer.current);
    };
  }, [text, nodes]);

  const pick = (o: Option | undefined): void => {
    if (!o) return;
    setOpen(false);
    setText(o.name);
    onPick(o);
  };

  return (
    <div className="search">
      <input
        type="search"
        role="combobox"
        aria-label="Search nodes by name, label or address"
        aria-expanded={open && options.length > 0}
        aria-controls={listId}
        aria-autocomplete="list"
        aria-activedescendant={open && options[active] ? `${listId}-${active}` : undefined}
        placeholder="Search name, label, address"
        value={text}
        onChange={(e) => {
          setText(e.target.value);
          setOpen(true);
        }}
        onFocus={() => setOpen(true)}
        onBlur={() => setTimeout(() => setOpen(false), 150)}
        onKeyDown={(e) => {
          if (e.key === 'ArrowDown') {
            setActive((a) => Math.min(a + 1, options.length - 1));
            e.preventDefault();
          } else if (e.key === 'ArrowUp') {
            setActive((a) => Math.max(a - 1, 0));
            e.preventDefault();
          } else if (e.key === 'Enter') {
            pick(options[active]);
            e.preventDefault();
          } else if (e.key === 'Escape') setOpen(false);
        }}
      />
      {open && options.length > 0 ? (
        <ul className="search-results" role="listbox" id={listId}>
          {options.map((o, i) => (
            <li
              key={o.id}
              id={`${listId}-${i}`}
              role="option"
              aria-selected={i === active}
              className={i === active ? 'active' : undefined}
              onMouseDown={(e) => {
                e.preventDefault();
                pick(o);
              }}
            >
              <span className="name">{o.name}</span> <span className="muted">{o.kind}</span>
              <span className="match">{o.match}</span>
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}
