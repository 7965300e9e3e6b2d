// Logging for every command: pino, on stderr (stdout may carry NDJSON records). On a terminal the
// lines read as text for people (time, level, message, key fields); JSON lines otherwise, or when
// asked for.
import pino, { type Logger, type DestinationStream } from 'pino';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ['auto', 'json', 'text'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export class LogOptionError extends Error {
  override name = 'LogOptionError';
}

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const OMIT = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'name']);

function fieldText(v: unknown): string {
  if (typeof v === 'string') return /[\s"=]/.test(v) ? JSON.stringify(v) : v;
  if (v && typeof v === 'object' && 'message' in v && typeof (v as { message: unknown }).message === 'string') return JSON.stringify((v as { message: string }).message);
  return JSON.stringify(v);
}

/** One pino JSON line as a line for people: `15:04:05.123 WARN  message key=value ...`. */
export function textLine(json: string): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const t = typeof o.time === 'number' ? new Date(o.time).toISOString().slice(11, 23) : '';
  const level = (LEVEL_NAMES[o.level as number] ?? String(o.level)).padEnd(5);
  const fields = Object.entries(o)
    .filter(([k]) => !OMIT.has(k))
    .map(([k, v]) => `${k}=${fieldText(v)}`)
    .join(' ');
  return `${t} ${level} ${String(o.msg ?? '')}${fields ? `  ${fields}` : ''}\n`;
}

function textDestination(fd: number): DestinationStream {
  const sink = pino.destination({ fd, sync: true });
  return { write: (s: string) => void sink.write(textLine(s)) };
}

export interface LoggerOptions {
  level?: string;
  format?: string;
  name?: string;
  /** Whether stderr is a terminal (auto format); default: asks the process. */
  isTty?: boolean;
}

export function checkLogLevel(level: string): LogLevel {
  if (!(LOG_LEVELS as readonly string[]).includes(level)) throw new LogOptionError(`--log-level '${level}' is not a level: use one of ${LOG_LEVELS.join(', ')}`);
  return level as LogLevel;
}

export function checkLogFormat(format: string): LogFormat {
  if (!(LOG_FORMATS as readonly string[]).includes(format)) throw new LogOptionError(`--log-format '${format}' is not a format: use auto (text on a terminal, JSON otherwise), json or text`);
  return format as LogFormat;
}

export function createLogger(options: LoggerOptions | string = {}, name?: string): Logger {
  const o: LoggerOptions = typeof options === 'string' ? { level: options, name } : options;
  const level = checkLogLevel(o.level ?? 'info');
  const format = checkLogFormat(o.format ?? 'auto');
  const tty = o.isTty ?? process.stderr.isTTY === true;
  const text = format === 'text' || (format === 'auto' && tty);
  return pino({ name: o.name ?? 'flowscope', level, base: { pid: process.pid } }, text ? textDestination(2) : pino.destination({ fd: 2, sync: true }));
}
