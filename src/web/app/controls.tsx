// Small pieces of markup that several controls and tables share.
import type { ReactNode } from 'react';

/** The options of a select: each value, shown as `label(value)`. */
export function Options({ values, label }: { values: readonly string[]; label?: (v: string) => string }) {
  return (
    <>
      {values.map((v) => (
        <option key={v} value={v}>
          {label ? label(v) : v}
        </option>
      ))}
    </>
  );
}

export interface Column {
  label: ReactNode;
  numeric?: boolean;
}

/** A table's header row: column headers, numbers aligned right. */
export function TableHead({ columns }: { columns: readonly Column[] }) {
  return (
    <thead>
      <tr>
        {columns.map((c, i) => (
          <th key={i} scope="col" className={c.numeric ? 'num' : undefined}>
            {c.label}
          </th>
        ))}
      </tr>
    </thead>
  );
}
