// Splits a command string (`sh -c "..."`, `mysql -e "..."`, a libpq conninfo) into words the way a
// POSIX shell would (quotes and backslashes), keeping where each word stood so that a changed word can
// be put back in place and the rest of the text stays as written.

export interface ShellWord {
  /** Offsets of the word in the text, quotes included. */
  start: number;
  end: number;
  /** The word with quotes and escapes removed. */
  value: string;
  /** The quote the word started with, if any. */
  quote: '' | "'" | '"';
}

const SPACE = /\s/;

export function shellWords(text: string): ShellWord[] {
  const out: ShellWord[] = [];
  let i = 0;
  while (i < text.length) {
    while (i < text.length && SPACE.test(text[i]!)) i++;
    if (i >= text.length) break;
    const start = i;
    const first = text[i];
    const quote: ShellWord['quote'] = first === "'" || first === '"' ? first : '';
    let value = '';
    while (i < text.length && !SPACE.test(text[i]!)) {
      const c = text[i]!;
      if (c === "'") {
        const close = text.indexOf("'", i + 1);
        const stop = close < 0 ? text.length : close;
        value += text.slice(i + 1, stop);
        i = stop + 1;
      } else if (c === '"') {
        i++;
        while (i < text.length && text[i] !== '"') {
          if (text[i] === '\\' && i + 1 < text.length) {
            value += text[i + 1];
            i += 2;
          } else value += text[i++];
        }
        i++;
      } else if (c === '\\' && i + 1 < text.length) {
        value += text[i + 1];
        i += 2;
      } else {
        value += c;
        i++;
      }
    }
    out.push({ start, end: Math.min(i, text.length), value, quote });
  }
  return out;
}

/** `value` written back as a word, in the quotes the original used where that still works. */
export function quoteWord(value: string, quote: ShellWord['quote']): string {
  if (quote === "'" && !value.includes("'")) return `'${value}'`;
  if (quote === '"') return `"${value.replace(/["\\$`]/g, '\\$&')}"`;
  if (value === '' || /[\s'"\\]/.test(value)) return `'${value.replace(/'/g, `'\\''`)}'`;
  return value;
}

/** The text with each word whose value changed replaced (quoted as before); the rest as written. */
export function replaceWords(text: string, words: readonly ShellWord[], values: readonly string[]): string {
  let out = '';
  let at = 0;
  words.forEach((w, i) => {
    const v = values[i]!;
    if (v === w.value) return;
    out += text.slice(at, w.start) + quoteWord(v, w.quote);
    at = w.end;
  });
  return out + text.slice(at);
}
