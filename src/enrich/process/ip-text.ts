/**
 * IP address text helpers shared by the /proc parsers and the live stage:
 * one canonical text form per address so 4-tuples compare as strings.
 * IPv4 is dotted quad; IPv6 is RFC 5952 (lower case, longest zero run compressed);
 * an IPv4-mapped IPv6 address (::ffff:a.b.c.d) is reported as the plain IPv4 address.
 */

/** 16 bytes of an IPv6 address → canonical text (v4-mapped → dotted IPv4). */
export function ipv6BytesToText(b: Uint8Array): string {
  if (isV4Mapped(b)) return `${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push((b[i]! << 8) | b[i + 1]!);
  // longest run of zero words (length >= 2), first one on ties (RFC 5952 4.2.3)
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (w: number) => w.toString(16);
  if (bestStart < 0) return words.map(hex).join(':');
  const head = words.slice(0, bestStart).map(hex).join(':');
  const tail = words.slice(bestStart + bestLen).map(hex).join(':');
  return `${head}::${tail}`;
}

export function isV4Mapped(b: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
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

/** Canonical text of any IPv4/IPv6 text (v4-mapped → IPv4); the input unchanged if unparsable. */
export function canonicalIp(text: string): string {
  const b = parseIpText(text);
  if (!b) return text;
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  return ipv6BytesToText(b);
}
