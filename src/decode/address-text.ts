/** Address text for decoded packets: dotted IPv4 and RFC 5952 IPv6. */

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
  const g0 = (b[o] << 8) | b[o + 1];
  const g1 = (b[o + 2] << 8) | b[o + 3];
  const g2 = (b[o + 4] << 8) | b[o + 5];
  const g3 = (b[o + 6] << 8) | b[o + 7];
  const g4 = (b[o + 8] << 8) | b[o + 9];
  const g5 = (b[o + 10] << 8) | b[o + 11];
  if ((g0 | g1 | g2 | g3 | g4) === 0 && g5 === 0xffff) return `::ffff:${ipv4Text(b, o + 12)}`;
  const g = [g0, g1, g2, g3, g4, g5, (b[o + 12] << 8) | b[o + 13], (b[o + 14] << 8) | b[o + 15]];

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
