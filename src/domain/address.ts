/**
 * Address text and flow identity, one of each for the whole program.
 *
 * Two forms, never mixed up:
 * - display text (`ipv4Text`, `ipv6Text`): dotted IPv4 and RFC 5952 IPv6, with an
 *   IPv4-mapped address as `::ffff:a.b.c.d` (RFC 5952 section 5). Events carry this.
 * - identity text (`canonicalIp`, `ipv6BytesToText`): the same, except that an IPv4-mapped
 *   address is the plain IPv4 address, because /proc/net/tcp6 and sock_diag report a
 *   dual-stack socket's IPv4 peer that way. Keys (`flowKey`) use this form, so the TCP
 *   stage, the SYN gate and the /proc correlator name one connection with one string.
 */

/** Dotted-quad text of the 4 bytes at b[o]. */
export function ipv4Text(b: Uint8Array, o: number): string {
  return `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
}

/**
 * RFC 5952 text of the 16 bytes at b[o]: lowercase hex, no leading zeros, the
 * longest run of two or more zero groups (the first on a tie) written as "::",
 * and IPv4-mapped addresses as ::ffff:a.b.c.d.
 */
export function ipv6Text(b: Uint8Array, o: number): string {
  const g0 = (b[o]! << 8) | b[o + 1]!;
  const g1 = (b[o + 2]! << 8) | b[o + 3]!;
  const g2 = (b[o + 4]! << 8) | b[o + 5]!;
  const g3 = (b[o + 6]! << 8) | b[o + 7]!;
  const g4 = (b[o + 8]! << 8) | b[o + 9]!;
  const g5 = (b[o + 10]! << 8) | b[o + 11]!;
  if ((g0 | g1 | g2 | g3 | g4) === 0 && g5 === 0xffff) return `::ffff:${ipv4Text(b, o + 12)}`;
  const g = [g0, g1, g2, g3, g4, g5, (b[o + 12]! << 8) | b[o + 13]!, (b[o + 14]! << 8) | b[o + 15]!];

  let bestStart = -1;
  let bestLen = 1; // a single zero group is not compressed
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }

  if (bestStart < 0) return g.map((v) => v.toString(16)).join(':');
  const head = g.slice(0, bestStart).map((v) => v.toString(16)).join(':');
  const tail = g.slice(bestStart + bestLen).map((v) => v.toString(16)).join(':');
  return `${head}::${tail}`;
}

export function isV4Mapped(b: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}

/** 16 bytes of an IPv6 address → identity text (v4-mapped → dotted IPv4). */
export function ipv6BytesToText(b: Uint8Array): string {
  return isV4Mapped(b) ? ipv4Text(b, 12) : ipv6Text(b, 0);
}

/** Parse IPv4 or IPv6 text to bytes (4 or 16); null when not an address. */
export function parseIpText(text: string): Uint8Array | null {
  if (text.includes(':')) return parseIpv6(text);
  return parseIpv4(text);
}

function parseIpv4(text: string): Uint8Array | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^\d{1,3}$/.test(p)) return null;
    const v = Number(p);
    if (v > 255) return null;
    out[i] = v;
  }
  return out;
}

function parseIpv6(text: string): Uint8Array | null {
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  let tailV4: Uint8Array | null = null;
  const lastColon = text.lastIndexOf(':');
  if (text.slice(lastColon + 1).includes('.')) {
    tailV4 = parseIpv4(text.slice(lastColon + 1));
    if (!tailV4) return null;
    text = text.slice(0, lastColon + 1) + '0:0';
  }
  const dbl = text.indexOf('::');
  if (dbl !== text.lastIndexOf('::')) return null;
  let head: string[];
  let tail: string[];
  if (dbl >= 0) {
    head = text.slice(0, dbl) ? text.slice(0, dbl).split(':') : [];
    tail = text.slice(dbl + 2) ? text.slice(dbl + 2).split(':') : [];
    if (head.length + tail.length > 7) return null;
  } else {
    head = text.split(':');
    tail = [];
    if (head.length !== 8) return null;
  }
  const words = [...head, ...new Array<string>(8 - head.length - tail.length).fill('0'), ...tail];
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    const w = words[i]!;
    if (!/^[0-9a-fA-F]{1,4}$/.test(w)) return null;
    const v = parseInt(w, 16);
    out[i * 2] = v >> 8;
    out[i * 2 + 1] = v & 0xff;
  }
  if (tailV4) out.set(tailV4, 12);
  return out;
}

/** Identity text of any IPv4/IPv6 text (v4-mapped → IPv4); the input unchanged if unparsable. */
export function canonicalIp(text: string): string {
  const b = parseIpText(text);
  if (!b) return text;
  if (b.length === 4) return ipv4Text(b, 0);
  return ipv6BytesToText(b);
}

/**
 * Identity text of display text made by `ipv4Text` / `ipv6Text` (already canonical except
 * for the v4-mapped form): cheap enough for every segment.
 */
export function keyIp(displayText: string): string {
  return displayText.startsWith('::ffff:') && displayText.includes('.') ? displayText.slice(7) : displayText;
}

/**
 * The one key of a connection: "clientIp|clientPort|serverIp|serverPort" in identity text,
 * the same for both directions. Addresses must be display text from the decoder or identity
 * text (use `canonicalIp` first for text from anywhere else).
 */
export function flowKey(clientIp: string, clientPort: number, serverIp: string, serverPort: number): string {
  return keyIp(clientIp) + '|' + clientPort + '|' + keyIp(serverIp) + '|' + serverPort;
}
