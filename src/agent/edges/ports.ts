// Which port of a flow is the service port. Ephemeral ports (the kernel's ip_local_port_range)
// never become labels: a client's ephemeral port would make one series per connection.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { commandIn } from '../../lib/netns.js';

export interface PortRange {
  low: number;
  high: number;
}

const PORT_RANGE = '/proc/sys/net/ipv4/ip_local_port_range';
const DEFAULT_RANGE: PortRange = { low: 32768, high: 60999 };

/** The local port range of this network namespace (default 32768-60999 when unreadable). */
export function ephemeralRange(path = PORT_RANGE): PortRange {
  try {
    return parsePortRange(readFileSync(path, 'utf8')) ?? DEFAULT_RANGE;
  } catch {
    return DEFAULT_RANGE;
  }
}

/**
 * The local port range of the network namespace at `netnsPath` (/proc/sys/net shows the reader's
 * namespace: read from inside it); this one's when not given or unreadable.
 */
export function ephemeralRangeIn(netnsPath: string | undefined): PortRange {
  if (netnsPath === undefined) return ephemeralRange();
  try {
    const [cmd, args] = commandIn(netnsPath, 'cat', [PORT_RANGE]);
    return parsePortRange(execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 })) ?? ephemeralRange();
  } catch {
    return ephemeralRange();
  }
}

/** "LOW HIGH", as the kernel writes ip_local_port_range. */
export function parsePortRange(text: string): PortRange | undefined {
  const [low, high] = text.trim().split(/\s+/).map(Number);
  return Number.isInteger(low) && Number.isInteger(high) && low! > 0 && high! >= low! ? { low: low!, high: high! } : undefined;
}

/**
 * The service port of a flow from its local and remote ports: the one that is not ephemeral; the
 * lower when neither is; 0 when both are (no service port can be told).
 */
export function servicePort(local: number, remote: number, range: PortRange): number {
  const localEph = local >= range.low && local <= range.high;
  const remoteEph = remote >= range.low && remote <= range.high;
  if (localEph && remoteEph) return 0;
  if (localEph) return remote;
  if (remoteEph) return local;
  return Math.min(local, remote);
}
