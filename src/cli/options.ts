// Parsing and checking of command-line values: a bad value is a UsageError that says what is expected.
import { isIP } from 'node:net';
import { UsageError } from './errors.js';
import { canUseBpf } from '../bpf/features.js';
import type { ListenAddress } from '../lib/http.js';

/** "host:port", "[v6]:port", ":port" or "port". */
export function parseListen(value: string, flag = '--listen'): ListenAddress {
  const m = /^(?:(?:\[([^\]]+)\]|([^:[\]]*)):)?(\d+)$/.exec(value.trim());
  const host = m ? (m[1] ?? m[2] ?? '') : '';
  const port = m ? Number(m[3]) : NaN;
  if (!m || !Number.isInteger(port) || port < 1 || port > 65535 || (host !== '' && host !== 'localhost' && isIP(host) === 0)) {
    throw new UsageError(`${flag} '${value}' is not an address: use HOST:PORT with an IP address and a port 1-65535 (e.g. 127.0.0.1:9387, [::1]:9387, 0.0.0.0:9387)`);
  }
  return { host: host === '' ? '0.0.0.0' : host, port };
}

/** "1s", "500ms", "2" (seconds), "1.5s". */
export function parseDuration(value: string, flag: string, minMs = 100, maxMs = 3_600_000): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(value.trim());
  if (!m) throw new UsageError(`${flag} '${value}' is not a duration: use e.g. 1s, 500ms or 2 (seconds)`);
  const n = Number(m[1]);
  const ms = m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1000;
  if (ms < minMs || ms > maxMs) throw new UsageError(`${flag} '${value}' is out of range: use between ${minMs} ms and ${maxMs / 1000} s`);
  return Math.round(ms);
}

export function parseCount(value: string, flag: string, min = 1, max = 10_000_000): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n < min || n > max) throw new UsageError(`${flag} '${value}' must be a whole number from ${min} to ${max}`);
  return n;
}

export function parseNumber(value: string, flag: string, min = 0): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < min) throw new UsageError(`${flag} '${value}' must be a number >= ${min}`);
  return n;
}

/** Commands that load BPF programs need root (or CAP_BPF + CAP_PERFMON + CAP_NET_ADMIN). */
export function requireBpfPrivileges(command: string): void {
  if (!canUseBpf()) {
    throw new UsageError(`${command} must run as root (sudo flowscope ${command}), or with CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN: it loads eBPF programs`);
  }
}
