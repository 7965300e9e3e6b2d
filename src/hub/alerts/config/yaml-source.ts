// A YAML document that can say where a value is: errors about a field name its file, line and
// column, so that a mistake in a long alerts file is found at once.
import { LineCounter, parseDocument, type Document } from 'yaml';
import { documentValue, fieldName, position, type FieldPath } from '../../../lib/yaml-position.js';

export { fieldName, type FieldPath };

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
    const v = documentValue(doc, lines, file);
    if ('problem' in v) return { errors: [v.problem] };
    return { source: new YamlSource(file, doc, lines, v.value ?? undefined) };
  }

  /** `file:line:col` of the value at `path` (or of its key, or of the nearest parent that exists). */
  where(path: FieldPath, atKey = false): string {
    return `${this.file}:${position(this.doc, this.lines, path, atKey)}`;
  }

  /** A message about the field at `path`, located. */
  problem(path: FieldPath, text: string, atKey = false): string {
    return `${this.where(path, atKey)}: ${fieldName(path)}: ${text}`;
  }
}
