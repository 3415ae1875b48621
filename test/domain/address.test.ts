import { describe, expect, it } from 'vitest';
import { ipv4Text, ipv6Text } from '../../src/domain/address.js';

function hex16(hex: string): Buffer {
  return Buffer.from(hex.replace(/[^0-9a-f]/gi, ''), 'hex');
}

describe('ipv6Text (RFC 5952)', () => {
  const rows: [string, string][] = [
    ['fd00 0ec2 0000 0000 0000 0000 0000 0254', 'fd00:ec2::254'],
    ['0000 0000 0000 0000 0000 0000 0000 0000', '::'],
    ['0000 0000 0000 0000 0000 0000 0000 0001', '::1'],
    ['2001 0db8 0000 0000 0000 0000 0000 0000', '2001:db8::'],
    ['2001 0db8 0000 0001 0000 0000 0000 0001', '2001:db8:0:1::1'], // longest run wins
    ['2001 0db8 0000 0000 0001 0000 0000 0001', '2001:db8::1:0:0:1'], // first of equal runs
    ['2001 0db8 0000 0001 0001 0001 0001 0001', '2001:db8:0:1:1:1:1:1'], // single zero not compressed
    ['2001 0DB8 AAAA BBBB CCCC DDDD EEEE FFFF', '2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff'],
    ['0000 0000 0000 0000 0000 ffff a9fe a9fe', '::ffff:169.254.169.254'],
    ['fe80 0000 0000 0000 0000 0000 0000 0000', 'fe80::'],
    ['0001 0000 0000 0000 0000 0000 0000 0000', '1::'],
  ];
  for (const [hex, text] of rows) {
    it(text, () => {
      expect(ipv6Text(hex16(hex), 0)).toBe(text);
      // at an offset inside a larger buffer
      expect(ipv6Text(Buffer.concat([Buffer.alloc(3), hex16(hex)]), 3)).toBe(text);
    });
  }
});

describe('ipv4Text', () => {
  it('dotted quad', () => {
    expect(ipv4Text(Buffer.from([0, 169, 254, 169, 254]), 1)).toBe('169.254.169.254');
    expect(ipv4Text(Buffer.from([10, 0, 0, 255]), 0)).toBe('10.0.0.255');
  });
});

describe('flowKey: one identity per connection', () => {
  it('a v4-mapped client gives the same key from decoder text and from /proc text', async () => {
    const { flowKey, canonicalIp } = await import('../../src/domain/address.js');
    const { tupleKey } = await import('../../src/live/gate.js');
    const fromDecoder = flowKey(ipv6Text(hex16('0000 0000 0000 0000 0000 ffff 0a00 0005'), 0), 40000, '169.254.169.254', 80);
    expect(fromDecoder).toBe('10.0.0.5|40000|169.254.169.254|80');
    expect(tupleKey({ srcIp: '::FFFF:10.0.0.5', srcPort: 40000, dstIp: '169.254.169.254', dstPort: 80 })).toBe(fromDecoder);
    expect(flowKey(canonicalIp('fd00:0ec2:0:0::254'), 1, 'fd00:ec2::254', 80)).toBe('fd00:ec2::254|1|fd00:ec2::254|80');
  });
  it('ipv6BytesToText and canonicalIp agree with ipv6Text except for v4-mapped', async () => {
    const { ipv6BytesToText, canonicalIp } = await import('../../src/domain/address.js');
    expect(ipv6BytesToText(hex16('fd00 0ec2 0000 0000 0000 0000 0000 0254'))).toBe('fd00:ec2::254');
    expect(ipv6BytesToText(hex16('0000 0000 0000 0000 0000 ffff a9fe a9fe'))).toBe('169.254.169.254');
    expect(canonicalIp('::ffff:169.254.169.254')).toBe('169.254.169.254');
    expect(canonicalIp('2001:DB8:0:0:0:0:0:1')).toBe('2001:db8::1');
  });
});
