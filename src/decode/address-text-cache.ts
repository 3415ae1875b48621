import { ipv4Text, ipv6Text } from '../domain/address.js';
import { word } from './fast-path.js';

const SIZE = 256;

/**
 * ipv4Text and ipv6Text of recent addresses, direct-mapped by the address: the segments of a
 * flow share one string instead of making one each (the decoder's per-segment allocation).
 */
export class AddressTextCache {
  private readonly words = new Int32Array(SIZE);
  private readonly texts: Array<string | undefined> = new Array<string | undefined>(SIZE);
  private readonly words6 = new Int32Array(SIZE * 4);
  private readonly texts6: Array<string | undefined> = new Array<string | undefined>(SIZE);

  /** ipv4Text(d, o) */
  text(d: Buffer, o: number): string {
    const w = word(d, o) | 0;
    const i = (w ^ (w >>> 8) ^ (w >>> 16)) & (SIZE - 1);
    const cached = this.texts[i];
    if (cached !== undefined && this.words[i] === w) return cached;
    const text = ipv4Text(d, o);
    this.words[i] = w;
    this.texts[i] = text;
    return text;
  }

  /** ipv6Text(d, o) */
  text6(d: Buffer, o: number): string {
    const w0 = word(d, o) | 0;
    const w1 = word(d, o + 4) | 0;
    const w2 = word(d, o + 8) | 0;
    const w3 = word(d, o + 12) | 0;
    const h = w0 ^ w1 ^ w2 ^ w3;
    const i = (h ^ (h >>> 8) ^ (h >>> 16)) & (SIZE - 1);
    const k = i << 2;
    const ws = this.words6;
    const cached = this.texts6[i];
    if (cached !== undefined && ws[k] === w0 && ws[k + 1] === w1 && ws[k + 2] === w2 && ws[k + 3] === w3) return cached;
    const text = ipv6Text(d, o);
    ws[k] = w0;
    ws[k + 1] = w1;
    ws[k + 2] = w2;
    ws[k + 3] = w3;
    this.texts6[i] = text;
    return text;
  }
}
