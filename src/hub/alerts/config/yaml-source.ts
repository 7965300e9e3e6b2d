// A YAML document that can say where a value is: errors about a field name its file, line and
// column, so that a mistake in a long alerts file is found at once.
import { LineCounter, isMap, parseDocument, type Document, type Node } from 'yaml';

export type FieldPath = ReadonlyArray<string | number>;

/** `rules.failures.windows[0].short` */
export function fieldName(path: FieldPath): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${p}` : p;
  return out || '(top level)';
}

export class YamlSource {
  private constructor(
    readonly file: string,
    private readonly doc: Document,
    private readonly lines: LineCounter,
    /** The document as plain data (undefined for an empty file). */
    readonly value: unknown,
  ) {}

  /** Parses text; syntax errors come back as located messages. */
  static parse(text: string, file: string): { source: YamlSource } | { errors: string[] } {
    const lines = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
    if (doc.errors.length) {
      return {
        errors: doc.errors.map((e) => {
          const { line, col } = lines.linePos(e.pos[0]);
          return `${file}:${line}:${col}: YAML syntax: ${e.message.split('\n')[0]}`;
        }),
      };
    }
    return { source: new YamlSource(file, doc, lines, doc.toJS({ maxAliasCount: 100 }) as unknown) };
  }

  /** `file:line:col` of the value at `path` (or of its key, or of the nearest parent that exists). */
  where(path: FieldPath, atKey = false): string {
    for (let n = atKey ? path.length - 1 : path.length; n >= 0; n--) {
      const node = this.doc.getIn(path.slice(0, n), true) as Node | undefined;
      let offset = node && typeof node === 'object' && 'range' in node && node.range ? node.range[0] : undefined;
      if (n < path.length && node && isMap(node)) {
        const pair = node.items.find((it) => (it.key as { value?: unknown } | null)?.value === path[n]);
        const key = pair?.key as Node | undefined;
        if (key?.range) offset = key.range[0];
      }
      if (offset !== undefined) {
        const { line, col } = this.lines.linePos(offset);
        return `${this.file}:${line}:${col}`;
      }
    }
    return `${this.file}:1:1`;
  }

  /** A message about the field at `path`, located. */
  problem(path: FieldPath, text: string, atKey = false): string {
    return `${this.where(path, atKey)}: ${fieldName(path)}: ${text}`;
  }
}
