/**
 * The decoder's address text cache must give exactly ipv4Text / ipv6Text of the bytes, whatever
 * was cached before (random addresses, many sharing a slot, repeated ones, zero addresses).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AddressTextCache } from '../../src/decode/address-text-cache.js';
import { ipv4Text, ipv6Text } from '../../src/domain/address.js';

const byte = fc.oneof(fc.constant(0), fc.constant(255), fc.constant(0xa9), fc.nat(255));
const addr16 = fc.array(byte, { minLength: 16, maxLength: 16 });

describe('AddressTextCache', () => {
  it('answers as ipv4Text and ipv6Text for any sequence of addresses', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(addr16, fc.nat(3), fc.boolean()), { minLength: 1, maxLength: 300 }), (list) => {
        const cache = new AddressTextCache();
        const seen: Buffer[] = [];
        for (const [bytes, pad, again] of list) {
          // now and then an address seen before (a flow's next segment)
          const a = again && seen.length > 0 ? seen[bytes[0] % seen.length] : Buffer.from(bytes);
          seen.push(a);
          const b = Buffer.concat([Buffer.alloc(pad, 0xff), a]);
          expect(cache.text(b, pad)).toBe(ipv4Text(b, pad));
          expect(cache.text6(b, pad)).toBe(ipv6Text(b, pad));
        }
      }),
      { numRuns: 300, seed: 23 },
    );
  });

  it('keeps apart addresses that share a slot', () => {
    const cache = new AddressTextCache();
    // same xor-fold (the slot), different addresses
    const a = Buffer.from([10, 0, 1, 2]);
    const b = Buffer.from([10, 0, 2, 1]);
    for (let i = 0; i < 3; i++) {
      expect(cache.text(a, 0)).toBe('10.0.1.2');
      expect(cache.text(b, 0)).toBe('10.0.2.1');
    }
    const z = Buffer.alloc(16);
    expect(cache.text6(z, 0)).toBe('::');
    expect(cache.text(z, 0)).toBe('0.0.0.0');
  });
});
