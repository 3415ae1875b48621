/**
 * Edge cases of IP fragmentation and of the NFLOG link type (#16): IMDS requests carried in
 * IPv4 and IPv6 fragments (in order, out of order, token header only in a later fragment,
 * conflicting overlaps, a fragment that never comes) and in `tcpdump -i nflog:N` captures.
 */
import { type EdgeCase, type PcapCaseOptions, T0, at, pcapCase } from './edge-case.js';
import { put, v1, v2 } from './edge-exchanges.js';
import { UA } from './fake-values.js';
import { LINKTYPE, ipTcp, nflog } from './packet-builders.js';
import { fragmentIp, ipv4Fragment, ipv6Fragment } from './ip-fragments.js';
import { type PcapRecord, classicPcap } from './capture-files.js';
import { Scenario } from './edge-scenario.js';
import type { ConvPacket } from './tcp-conversation.js';

const C = '10.0.1.23';
const C6 = 'fd00::1:23';
const HOP_BY_HOP = { type: 0, data: Buffer.from([5, 2, 0, 0, 1, 0]) };
const DEST_OPTS = { type: 60, data: Buffer.from([1, 4, 0, 0, 0, 0]) };

function isData(p: ConvPacket): boolean {
  return p.dir === 'toServer' && p.spec.payload !== undefined && p.spec.payload.length > 0;
}

/**
 * A raw-IP case whose client data packets are replaced by the fragments `cut` returns (in
 * emission order, 1 µs apart); `k` counts the data packets. `ip` is the whole packet, DF
 * cleared for IPv4.
 */
function fragCase(name: string, description: string, make: (s: Scenario) => ConvPacket[], cut: (ip: Buffer, k: number) => Buffer[], o: Pick<PcapCaseOptions, 'expect' | 'tsharkExcluded'> = {}): EdgeCase {
  return {
    name,
    ext: 'pcap',
    description,
    build() {
      const s = new Scenario();
      const packets = make(s);
      let k = 0;
      const recs: PcapRecord[] = packets.flatMap((p) => {
        const ip = ipTcp({ ...p.spec, ipId: 0x4000 + k });
        if (!isData(p)) return [{ sec: p.sec, nsec: p.nsec, data: ip }];
        if (ip[0] >> 4 === 4) ip.writeUInt16BE(0, 6);
        return cut(ip, k++).map((data, i) => ({ sec: p.sec, nsec: p.nsec + i * 1000, data }));
      });
      return { file: classicPcap(recs, { linkType: LINKTYPE.RAW }), events: s.events(packets), expect: o.expect, tsharkExcluded: o.tsharkExcluded };
    },
  };
}

/** [start, end) ranges of the fragmentable part → fragments (IPv4 or IPv6 by the packet) */
function pieces(ip: Buffer, ranges: Array<[number, number]>, unfragmentable = 0): Buffer[] {
  return ranges.map(([a, b]) => (ip[0] >> 4 === 6 ? ipv6Fragment(ip, a, b, { unfragmentable }) : ipv4Fragment(ip, a, b)));
}

/** where the request's token header name starts in the fragmentable part (after the TCP header) */
function tokenAt(ip: Buffer): number {
  const i = ip.indexOf('X-aws-ec2-metadata-token');
  const ihl = ip[0] >> 4 === 6 ? 40 : (ip[0] & 15) * 4;
  return i - ihl;
}

export const fragmentCases: EdgeCase[] = [
  fragCase(
    'ipv4-fragments-out-of-order',
    'A v1 GET whose data packet is cut into four IPv4 fragments sent in the order 3, 1, 4, 2 (reassembled: reported as v1), after a token PUT sent whole.',
    (s) => [
      ...s.session({ client: at(C, 42300), startSec: T0 }, [put(UA.curl)]),
      ...s.session({ client: at(C, 42301), startSec: T0 + 1 }, [v1('/latest/meta-data/instance-id', UA.curl)]),
    ],
    (ip) => {
      const f = fragmentIp(ip, 32);
      return [f[2], f[0], ...f.slice(3), f[1]];
    },
  ),
  fragCase(
    'ipv4-fragments-token-later',
    'A v2 GET cut into two IPv4 fragments where the token header is only in the second one (a reader of the first fragment alone would call it v1), then a v1 GET cut the same way.',
    (s) => [
      ...s.session({ client: at(C, 42310), startSec: T0 }, [v2('/latest/meta-data/iam/security-credentials/', UA.boto3)]),
      ...s.session({ client: at(C, 42311), startSec: T0 + 1 }, [v1('/latest/meta-data/ami-id', UA.boto3)]),
    ],
    (ip) => {
      const t = tokenAt(ip);
      const cut = t > 0 ? (t & ~7) - 8 : 64;
      return pieces(ip, [[0, cut], [cut, 65535]]);
    },
  ),
  fragCase(
    'ipv4-fragments-overlap',
    'A v2 GET in three IPv4 fragments; before the last one, a copy of the second one carries other bytes where the token header is: the first copy wins (v2, like the TCP reassembler) and the conflict is counted, so the verdict is UNKNOWN (the receiver may have read the other bytes).',
    (s) => s.session({ client: at(C, 42320), startSec: T0 }, [v2('/latest/meta-data/instance-id', UA.awsCli)]),
    (ip) => {
      const t = tokenAt(ip) & ~7;
      const f = pieces(ip, [[0, t], [t, t + 48], [t, t + 48], [t + 48, 65535]]);
      const evil = f[2];
      evil.write('X-Amzn-Trace-Padding-Hdr', evil.length - 48 + (tokenAt(ip) - t), 'latin1');
      return f;
    },
    { expect: { exitCode: 0, skip: { counter: 'decode.skipped', reasonHint: 'ip-fragment-overlap-conflict' } } },
  ),
  fragCase(
    'ipv4-fragments-missing',
    'A v1 GET cut into two IPv4 fragments of which only the first is captured (no event: it cannot be read, and the verdict is UNKNOWN), then a whole v2 GET.',
    (s) => [
      ...s.session({ client: at(C, 42330), startSec: T0 }, [{ ...v1('/latest/meta-data/instance-id', UA.curl), ev: null }]),
      ...s.session({ client: at(C, 42331), startSec: T0 + 1 }, [v2('/latest/meta-data/instance-id', UA.curl)]),
    ],
    (ip, k) => (k === 0 ? [fragmentIp(ip, 48)[0]] : [ip]),
    { expect: { exitCode: 0, skip: { counter: 'decode.fragments', reasonHint: 'an IMDS fragment not reassembled' } } },
  ),
  fragCase(
    'ipv6-fragments',
    'IPv6: a v2 GET split over two fragments (fragment header right after the IPv6 header), in order, after a token PUT sent whole.',
    (s) => [
      ...s.session({ client: at(C6, 42340), startSec: T0 }, [put(UA.boto3)]),
      ...s.session({ client: at(C6, 42341), startSec: T0 + 1 }, [v2('/latest/meta-data/placement/availability-zone', UA.boto3)]),
    ],
    (ip, k) => (k === 0 ? [ip] : fragmentIp(ip, 96)),
  ),
  fragCase(
    'ipv6-fragments-out-of-order',
    'IPv6 with a hop-by-hop header before the fragment header and a destination-options header behind it: a v1 GET in fragments sent last first, then a v2 GET whose token header is only in the last fragment.',
    (s) =>
      [
        ...s.session({ client: at(C6, 42350), startSec: T0 }, [v1('/latest/meta-data/instance-id', UA.goV1)]),
        ...s.session({ client: at(C6, 42351), startSec: T0 + 1 }, [v2('/latest/meta-data/instance-type', UA.goV1)]),
      ].map((p) => ({ ...p, spec: { ...p.spec, extHeaders: [HOP_BY_HOP, DEST_OPTS] } })),
    (ip, k) => {
      if (k === 0) return fragmentIp(ip, 40, { unfragmentable: 1 }).reverse();
      const t = tokenAt(ip) - 8; // the hop-by-hop header stays in front
      return pieces(ip, [[0, (t & ~7) - 8], [(t & ~7) - 8, 65535]], 1);
    },
  ),
];

function nflogCase(name: string, description: string, client: string, port: number, o: { bigEndian?: boolean } = {}): EdgeCase {
  return pcapCase(
    name,
    description,
    (s) => [
      ...s.session({ client: at(client, port), startSec: T0 }, [put(UA.boto3)]),
      ...s.session({ client: at(client, port + 1), startSec: T0 + 1 }, [v2('/latest/meta-data/placement/availability-zone', UA.boto3)]),
      ...s.session({ client: at(client, port + 2), startSec: T0 + 2 }, [v1('/latest/meta-data/instance-id', UA.curl)]),
    ],
    { wrap: (ip) => nflog(ip, { bigEndian: o.bigEndian }), pcap: { linkType: LINKTYPE.NFLOG, bigEndian: o.bigEndian } },
  );
}

export const nflogCases: EdgeCase[] = [
  nflogCase('nflog-ipv4', 'NFLOG (link type 239, `tcpdump -i nflog:5`) from a little-endian host: token PUT, v2 GET, v1 GET over IPv4.', C, 42400),
  nflogCase('nflog-ipv6', 'NFLOG (link type 239) from a big-endian host (big-endian pcap, TLV headers in big-endian order): token PUT, v2 GET, v1 GET over IPv6 to [fd00:ec2::254].', C6, 42410, { bigEndian: true }),
];
