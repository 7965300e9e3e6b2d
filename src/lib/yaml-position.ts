// Where a field of a parsed YAML document stands (line:column), for errors that point at the line to
// fix, and how to name a field path (`tls_server_config.cipher_suites[2]`).
import { isMap, type Document, type LineCounter, type Node } from 'yaml';

export type FieldPath = ReadonlyArray<string | number>;

/** `metrics.counters[0].labels[1].size` */
export function fieldName(path: FieldPath): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${p}` : p;
  return out || '(top level)';
}

/** Line:column of the node at `path` (or of its nearest existing parent); `atKey` points at the key. */
export function position(doc: Document, lines: LineCounter, path: FieldPath, atKey = false): string {
  for (let n = atKey ? path.length - 1 : path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n), true) as Node | undefined;
    let offset = node && typeof node === 'object' && 'range' in node && node.range ? node.range[0] : undefined;
    // For a missing child, point at the key of the field itself when the parent is a map.
    if (n < path.length && node && isMap(node)) {
      const pair = node.items.find((it) => (it.key as { value?: unknown } | null)?.value === path[n]);
      const k = pair?.key as Node | undefined;
      if (k?.range) offset = k.range[0];
    }
    if (offset !== undefined) {
      const { line, col } = lines.linePos(offset);
      return `${line}:${col}`;
    }
  }
  return '1:1';
}

/**
 * The document's value, or the problem that keeps it from having one (an alias to no anchor, too many
 * aliases: a "billion laughs" document), placed at the document's start.
 */
export function documentValue(doc: Document, lines: LineCounter, file: string): { value: unknown } | { problem: string } {
  try {
    return { value: doc.toJS({ maxAliasCount: 1000 }) as unknown };
  } catch (err) {
    const { line, col } = lines.linePos(doc.contents?.range?.[0] ?? 0);
    return { problem: `${file}:${line}:${col}: YAML: ${(err as Error).message}` };
  }
}
