// Socket addresses as the kernel stores them (16 bytes; IPv4 in the first four) to text.

export const AF_INET = 2;
export const AF_INET6 = 10;

function isV4Mapped(b: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}

function v4(b: Uint8Array, o: number): string {
  return `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
}

/** RFC 5952 text of an IPv6 address: lowercase, longest run of zero groups compressed. */
export function formatIPv6(b: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((b[i]! << 8) | b[i + 1]!);
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i > 1) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  const head = hex.slice(0, bestStart).join(':');
  const tail = hex.slice(bestStart + bestLen).join(':');
  return `${head}::${tail}`;
}

/** Text form of an address; IPv4-mapped IPv6 addresses (dual-stack sockets) read as IPv4. */
export function formatAddr(family: number, b: Uint8Array): string {
  if (family === AF_INET) return v4(b, 0);
  if (isV4Mapped(b)) return v4(b, 12);
  return formatIPv6(b);
}

/** 4 for IPv4 (including v4-mapped), 6 otherwise: the IP column of tcpconnlat-style output. */
export function ipVersion(family: number, b: Uint8Array): 4 | 6 {
  return family === AF_INET || isV4Mapped(b) ? 4 : 6;
}
