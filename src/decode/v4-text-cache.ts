import { ipv4Text } from '../domain/address.js';
import { word } from './fast-path.js';

const SIZE = 256;

/**
 * ipv4Text of recent addresses, direct-mapped by the address: the segments of a flow share
 * one string instead of making one each (the decoder's per-segment allocation).
 */
export class V4TextCache {
  private readonly words = new Int32Array(SIZE);
  private readonly texts: Array<string | undefined> = new Array<string | undefined>(SIZE);

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
}
