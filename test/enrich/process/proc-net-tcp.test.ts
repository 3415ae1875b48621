import { describe, expect, it } from 'vitest';
import {
  decodeProcNetAddress,
  encodeProcNetAddress,
  findProcNetTcpRow,
  parseProcNetTcp,
  TCP_SYN_SENT,
} from '../../../src/enrich/process/proc-net-tcp.js';
import { canonicalIp } from '../../../src/domain/address.js';

// rows as the kernel prints them on x86_64 (little-endian)
const TCP4 = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:0277 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 18812 1 0000000000000000 100 0 0 10 0
   1: 0F02000A:B3C2 FEA9FEA9:0050 02 00000001:00000000 01:00000064 00000000  1000        0 777001 2 0000000000000000 100 0 0 10 -1
   2: 0F02000A:B3C4 FEA9FEA9:0050 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0000000000000000
`;
const TCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0000000000000000FFFF00000F02000A:9C40 0000000000000000FFFF0000FEA9FEA9:0050 01 00000000:00000000 00:00000000 00000000   998        0 5550123 1 0000000000000000 20 4 30 10 -1
   1: 0000000000000000000000000100000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2000 1
   2: C20E00FD000000000000000001000000:D431 C20E00FD000000000000000054020000:0050 02 00000001:00000000 01:00000064 00000000    33        0 888002 2 0000000000000000
`;

describe('decodeProcNetAddress', () => {
  it.each([
    ['FEA9FEA9', true, '169.254.169.254'],
    ['0100007F', true, '127.0.0.1'],
    ['7F000001', false, '127.0.0.1'],
    ['0000000000000000FFFF0000FEA9FEA9', true, '169.254.169.254'],
    ['C20E00FD000000000000000054020000', true, 'fd00:ec2::254'],
    ['FD000EC2000000000000000000000254', false, 'fd00:ec2::254'],
    ['00000000000000000000000001000000', true, '::1'],
  ])('%s (little-endian=%s) → %s', (hex, le, ip) => {
    expect(decodeProcNetAddress(hex, le)?.ip).toBe(ip);
  });
  it('flags v4-mapped rows', () => {
    expect(decodeProcNetAddress('0000000000000000FFFF0000FEA9FEA9', true)?.v4Mapped).toBe(true);
    expect(decodeProcNetAddress('C20E00FD000000000000000054020000', true)?.v4Mapped).toBe(false);
  });
  it('rejects malformed hex', () => {
    expect(decodeProcNetAddress('FEA9FEA', true)).toBeNull();
    expect(decodeProcNetAddress('GEA9FEA9', true)).toBeNull();
  });
  it('round-trips through encodeProcNetAddress', () => {
    for (const le of [true, false]) {
      for (const ip of ['169.254.169.254', '10.0.2.15', 'fd00:ec2::254', '2001:db8::1:2']) {
        const enc = encodeProcNetAddress(ip, 80, ip.includes(':'), le)!;
        expect(decodeProcNetAddress(enc.split(':')[0]!, le)?.ip).toBe(ip);
      }
    }
    expect(encodeProcNetAddress('169.254.169.254', 80, true, true)).toBe('0000000000000000FFFF0000FEA9FEA9:0050');
    expect(encodeProcNetAddress('169.254.169.254', 80, false, true)).toBe('FEA9FEA9:0050');
  });
});

describe('parseProcNetTcp', () => {
  it('parses tcp rows with state, uid and inode', () => {
    const rows = parseProcNetTcp(TCP4, false, true);
    expect(rows).toHaveLength(3);
    expect(rows[1]).toEqual({
      localIp: '10.0.2.15', localPort: 0xb3c2, remoteIp: '169.254.169.254', remotePort: 80,
      state: TCP_SYN_SENT, uid: 1000, inode: 777001, v4Mapped: false,
    });
    expect(rows[2]!.inode).toBe(0); // TIME_WAIT: no owner
  });
  it('parses tcp6 rows including v4-mapped dual-stack sockets', () => {
    const rows = parseProcNetTcp(TCP6, true, true);
    expect(rows.map((r) => r.inode)).toEqual([5550123, 888002]); // the malformed middle row is skipped
    expect(rows[0]).toMatchObject({ localIp: '10.0.2.15', remoteIp: '169.254.169.254', remotePort: 80, v4Mapped: true, uid: 998, state: 1 });
    expect(rows[1]).toMatchObject({ localIp: 'fd00:ec2::1', remoteIp: 'fd00:ec2::254', state: 2, uid: 33 });
  });
  it('skips headers, blank and truncated lines', () => {
    expect(parseProcNetTcp('garbage\n\n   0: 0100007F:0277', false, true)).toEqual([]);
    expect(parseProcNetTcp(TCP6, false, true)).toEqual([]); // wrong width for tcp
  });
});

describe('findProcNetTcpRow', () => {
  it('finds the SYN_SENT row by 4-tuple', () => {
    const r = findProcNetTcpRow(TCP4, false, { ip: '10.0.2.15', port: 0xb3c2 }, { ip: '169.254.169.254', port: 80 }, true);
    expect(r?.inode).toBe(777001);
  });
  it('skips TIME_WAIT rows (inode 0)', () => {
    expect(findProcNetTcpRow(TCP4, false, { ip: '10.0.2.15', port: 0xb3c4 }, { ip: '169.254.169.254', port: 80 }, true)).toBeNull();
  });
  it('finds an IPv4 tuple in tcp6 as v4-mapped', () => {
    const r = findProcNetTcpRow(TCP6, true, { ip: '10.0.2.15', port: 0x9c40 }, { ip: '169.254.169.254', port: 80 }, true);
    expect(r?.inode).toBe(5550123);
  });
  it('finds an IPv6 tuple written in any text form', () => {
    const r = findProcNetTcpRow(TCP6, true, { ip: 'FD00:0EC2:0:0:0:0:0:1', port: 0xd431 }, { ip: 'fd00:ec2::254', port: 80 }, true);
    expect(r?.inode).toBe(888002);
  });
  it('returns null for an unknown tuple', () => {
    expect(findProcNetTcpRow(TCP4, false, { ip: '10.0.2.16', port: 0xb3c2 }, { ip: '169.254.169.254', port: 80 }, true)).toBeNull();
  });
});

describe('canonicalIp', () => {
  it.each([
    ['::ffff:169.254.169.254', '169.254.169.254'],
    ['FD00:EC2:0::254', 'fd00:ec2::254'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['1:0:0:2:0:0:0:3', '1:0:0:2::3'],
    ['10.1.2.3', '10.1.2.3'],
    ['not-an-ip', 'not-an-ip'],
  ])('%s → %s', (a, b) => expect(canonicalIp(a)).toBe(b));
});
