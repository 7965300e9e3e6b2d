import pino, { type Logger } from 'pino';
import { UsageError } from './errors.js';

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** JSON logs on stderr (stdout may carry NDJSON records). */
export function createLogger(level: string, name = 'flowscope'): Logger {
  if (!LEVELS.includes(level)) throw new UsageError(`--log-level '${level}' is not a level: use one of ${LEVELS.join(', ')}`);
  return pino({ name, level, base: { pid: process.pid } }, pino.destination({ fd: 2, sync: true }));
}
