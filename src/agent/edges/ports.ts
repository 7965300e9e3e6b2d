// Which port of a flow is the service port. Ephemeral ports (the kernel's ip_local_port_range)
// never become labels: a client's ephemeral port would make one series per connection.
import { readFileSync } from 'node:fs';

export interface PortRange {
  low: number;
  high: number;
}

/** The local port range of this network namespace (default 32768-60999 when unreadable). */
export function ephemeralRange(path = '/proc/sys/net/ipv4/ip_local_port_range'): PortRange {
  try {
    const [low, high] = readFileSync(path, 'utf8').trim().split(/\s+/).map(Number);
    if (Number.isInteger(low) && Number.isInteger(high) && low! > 0 && high! >= low!) return { low: low!, high: high! };
  } catch {
    // fall through
  }
  return { low: 32768, high: 60999 };
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
