import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  LINKTYPE,
  classicPcap,
  ethernet,
  httpGet,
  httpResponse,
  internetChecksum,
  ipv4Tcp,
  ipv6Tcp,
  parseIPv6,
  pcapng,
  tcpConversation,
  toRecords,
} from '../support/testkit/pcap-writer.js';

const hasTshark = (() => {
  try {
    execFileSync('tshark', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe('packet builders', () => {
  it('writes a valid IPv4 header checksum', () => {
    const ip = ipv4Tcp({ src: '10.0.0.5', dst: '169.254.169.254', srcPort: 40000, dstPort: 80, seq: 1, ack: 0, flags: 'S' });
    expect(internetChecksum(ip.subarray(0, 20))).toBe(0);
    expect(ip.readUInt16BE(2)).toBe(40);
    expect(ip[9]).toBe(6);
  });

  it('parses IPv6 text forms', () => {
    expect(parseIPv6('fd00:ec2::254').toString('hex')).toBe('fd000ec2000000000000000000000254');
    expect(parseIPv6('::1').toString('hex')).toBe('00000000000000000000000000000001');
  });

  it('chains IPv6 extension headers before TCP', () => {
    const ip = ipv6Tcp({
      src: 'fd00::5', dst: 'fd00:ec2::254', srcPort: 1, dstPort: 80, seq: 0, ack: 0, flags: 'S',
      extHeaders: [{ type: 0 }, { type: 60, data: Buffer.alloc(10) }],
    });
    expect(ip[6]).toBe(0);
    expect(ip[40]).toBe(60); // hop-by-hop says next is dest opts
    expect(ip[41]).toBe(0); // 8 bytes
    expect(ip[48]).toBe(6); // dest opts says next is TCP
    expect(ip[49]).toBe(1); // 16 bytes
    expect(ip.readUInt16BE(4)).toBe(ip.length - 40);
  });

  it('numbers a conversation correctly', () => {
    const req = httpGet('/latest/meta-data/', { userAgent: 'curl/7.88.1' });
    const pkts = tcpConversation({ client: { ip: '10.0.0.5', port: 40000 }, requests: [req], responses: [httpResponse(200, 'x')], split: [3] });
    const data = pkts.filter((p) => p.dir === 'toServer' && p.spec.payload && p.spec.payload.length > 0);
    expect(data.map((p) => p.spec.seq)).toEqual([1_000_001, 1_000_004]);
    expect(Buffer.concat(data.map((p) => p.spec.payload as Buffer)).toString('latin1')).toBe(req);
  });
});

describe.skipIf(!hasTshark)('files read by tshark', () => {
  it('tshark sees valid checksums and the HTTP request in pcap and pcapng', () => {
    const dir = mkdtempSync(join(tmpdir(), 'imdsw-writer-'));
    try {
      const pkts = tcpConversation({
        client: { ip: '10.0.0.5', port: 40000 },
        requests: [httpGet('/latest/meta-data/', { userAgent: 'curl/7.88.1' })],
        responses: [httpResponse(200, 'ami-id\n')],
      });
      const recs = toRecords(pkts, (ip) => ethernet(ip, { vlan: [10, 20] }));
      const a = join(dir, 'a.pcap');
      const b = join(dir, 'b.pcapng');
      writeFileSync(a, classicPcap(recs, { linkType: LINKTYPE.ETHERNET, nanosecond: true, bigEndian: true }));
      writeFileSync(b, pcapng([{ bigEndian: true, interfaces: [{ linkType: LINKTYPE.ETHERNET, tsresol: 9 }], records: recs.map((r) => ({ ...r, iface: 0 })) }]));
      for (const f of [a, b]) {
        const out = execFileSync('tshark', ['-r', f, '-o', 'tcp.check_checksum:TRUE', '-o', 'ip.check_checksum:TRUE', '-T', 'fields', '-e', 'http.request.uri', '-e', 'ip.checksum.status', '-e', 'tcp.checksum.status', '-e', 'frame.time_epoch'], { encoding: 'utf8' });
        const lines = out.trimEnd().split('\n');
        expect(lines).toHaveLength(pkts.length);
        expect(lines.filter((l) => l.startsWith('/latest/meta-data/'))).toHaveLength(1);
        for (const l of lines) {
          const f2 = l.split('\t');
          expect(f2[1]).toBe('1'); // 1 = good
          expect(f2[2]).toBe('1');
        }
        expect(lines[0].split('\t')[3]).toMatch(/^1700000000\.0+$/);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
