/** Edge cases of link layers and capture file formats. */
import { type BuiltCase, type EdgeCase, T0, at, pcapCase } from './edge-case.js';
import { put, v1, v2 } from './edge-exchanges.js';
import { classicPcap, pcapng } from './capture-files.js';
import { LINKTYPE, bsdNull, ethernet, fragmentIpv4, ipTcp, ipUdp, raw, sll, sll2 } from './packet-builders.js';
import { httpGet, httpResponse } from './http-text.js';
import { UA } from './fake-values.js';
import { Scenario, pseudoRandomBytes } from './edge-scenario.js';
import { type ConvPacket, interleave, tcpConversation, toRecords } from './tcp-conversation.js';

const C = '10.0.1.23';
const C6 = 'fd00::1:23';

/** the standard two-call script: token PUT + v2 GET from one client, v1 GET from curl */
function standard(s: Scenario, client: string, port: number): ConvPacket[] {
  return [
    ...s.session({ client: at(client, port), startSec: T0 }, [put(UA.boto3)]),
    ...s.session({ client: at(client, port + 1), startSec: T0 + 1 }, [v2('/latest/meta-data/placement/availability-zone', UA.boto3)]),
    ...s.session({ client: at(client, port + 2), startSec: T0 + 2 }, [v1('/latest/meta-data/instance-id', UA.curl)]),
  ];
}

function linkCase(name: string, description: string, linkType: number, wrap: (ip: Buffer) => Buffer, client = C, extra: { bigEndian?: boolean } = {}): EdgeCase {
  return pcapCase(name, description, (s) => standard(s, client, 42000 + linkType), { wrap, pcap: { linkType, ...extra } });
}

function v1Only(s: Scenario, port: number, startSec = T0): ConvPacket[] {
  return s.session({ client: at(C, port), startSec }, [v1('/latest/meta-data/instance-id', UA.curl)]);
}

const ERR = (error: string, packetsRead: number): BuiltCase['expect'] => ({ exitCode: 2, error, packetsRead });

export const formatCases: EdgeCase[] = [
  pcapCase('ipv6', 'IPv6 endpoint [fd00:ec2::254]:80 over Ethernet: token PUT, v2 GET, v1 GET.', (s) => standard(s, C6, 42100)),
  pcapCase('ipv6-ext-headers', 'IPv6 with a hop-by-hop and a destination-options extension header before TCP on every packet: v1 GET.', (s) =>
    s.session({ client: at(C6, 42110), startSec: T0 }, [v1('/latest/meta-data/instance-id', UA.curl)]).map((p) => ({
      ...p,
      spec: { ...p.spec, extHeaders: [{ type: 0, data: Buffer.from([5, 2, 0, 0, 1, 0]) }, { type: 60, data: Buffer.from([1, 4, 0, 0, 0, 0]) }] },
    }))),
  pcapCase('ip-tcp-options', 'IPv4 header with a Router Alert option (IHL 6) on client packets; TCP options (MSS, SACK-permitted, timestamps, window scale) on the SYNs and timestamps on every other segment: v1 GET.', (s) =>
    v1Only(s, 42120).map((p) => {
      const syn = typeof p.spec.flags === 'string' && p.spec.flags.includes('S');
      const ts = Buffer.from([1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0]);
      const synOpts = Buffer.from([2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7]);
      return { ...p, spec: { ...p.spec, options: syn ? synOpts : ts, ipOptions: p.dir === 'toServer' ? Buffer.from([0x94, 4, 0, 0]) : undefined } };
    })),
  {
    name: 'ipv4-fragments',
    ext: 'pcap',
    description: 'A v2 GET whose data packet is cut into three IPv4 fragments, in order (reassembled: reported as v2), then an unfragmented v1 GET.',
    build() {
      const s = new Scenario();
      const fragged = s.session({ client: at(C, 42130), startSec: T0 }, [v2('/latest/meta-data/instance-id', UA.curl)]);
      const records = fragged.flatMap((p) => {
        const ip = ipTcp({ ...p.spec, ipId: 0x4242 });
        const isData = p.dir === 'toServer' && p.spec.payload !== undefined && p.spec.payload.length > 0;
        if (!isData) return [{ sec: p.sec, nsec: p.nsec, data: ip }];
        ip.writeUInt16BE(0, 6); // clear DF
        return fragmentIpv4(ip, 56).map((data, i) => ({ sec: p.sec, nsec: p.nsec + i * 1000, data }));
      });
      const good = v1Only(s, 42131, T0 + 1);
      const file = classicPcap([...records, ...toRecords(good)], { linkType: LINKTYPE.RAW });
      return { file, events: s.events() };
    },
  },
  linkCase('vlan', '802.1Q VLAN 100 around every frame.', LINKTYPE.ETHERNET, (ip) => ethernet(ip, { vlan: [100] })),
  linkCase('qinq', 'QinQ: outer 802.1ad tag (0x88a8, VLAN 200) and inner 802.1Q tag (VLAN 100).', LINKTYPE.ETHERNET, (ip) => ethernet(ip, { vlan: [200, 100] })),
  linkCase('linux-sll', 'Linux cooked capture v1 (link type 113, tcpdump -i any on older libpcap).', LINKTYPE.LINUX_SLL, (ip) => sll(ip)),
  linkCase('linux-sll2', 'Linux cooked capture v2 (link type 276, tcpdump -i any on libpcap >= 1.10).', LINKTYPE.LINUX_SLL2, (ip) => sll2(ip)),
  linkCase('raw-ip-101', 'Raw IP, link type 101 (LINKTYPE_RAW).', LINKTYPE.RAW, raw),
  linkCase('raw-ip-12', 'Raw IP, link type 12 (DLT_RAW as written on some BSDs).', LINKTYPE.RAW_12, raw),
  linkCase('raw-ipv4-228', 'Raw IPv4, link type 228 (LINKTYPE_IPV4).', LINKTYPE.IPV4, raw),
  linkCase('raw-ipv6-229', 'Raw IPv6, link type 229 (LINKTYPE_IPV6), IMDS at [fd00:ec2::254].', LINKTYPE.IPV6, raw, C6),
  linkCase('bsd-null', 'BSD loopback (link type 0), address family 2 in little-endian host order.', LINKTYPE.NULL, (ip) => bsdNull(ip)),
  linkCase('bsd-null-ipv6-be', 'BSD loopback (link type 0) from a big-endian host: big-endian pcap, IPv6 with AF 28 (FreeBSD) in big-endian order.', LINKTYPE.NULL, (ip) => bsdNull(ip, { bigEndian: true, af: 28 }), C6, { bigEndian: true }),
  pcapCase('nanosecond-pcap', 'Classic pcap with nanosecond timestamps (magic 0xa1b23c4d); packet times have sub-microsecond parts.', (s) =>
    s.session({ client: at(C, 42140), startSec: T0, startNsec: 987_654_321, stepNs: 1_234_567 }, [v1('/latest/meta-data/instance-id', UA.curl)]), { pcap: { nanosecond: true } }),
  pcapCase('big-endian-pcap', 'Classic pcap written big-endian (magic a1 b2 c3 d4 on disk), microsecond.', (s) => standard(s, C, 42150), { pcap: { bigEndian: true } }),
  pcapCase('snaplen-96', 'Snaplen 96 cuts every Ethernet frame to 96 bytes, leaving 42 bytes of HTTP: a v2 GET and a v1 GET look the same (request line only; the headers that decide v1/v2 are cut), so nothing can be classified and no event may be reported (never a false v1).', (s) => [
    ...s.session({ client: at(C, 42160), startSec: T0 }, [{ ...v2('/latest/meta-data/', UA.curl), ev: null }]),
    ...s.session({ client: at(C, 42161), startSec: T0 + 1 }, [{ ...v1('/latest/meta-data/', UA.curl), ev: null }]),
  ], { pcap: { snaplen: 96 }, expect: { exitCode: 0, skip: { counter: 'imds.skipped.unclassifiable-truncated-head', reasonHint: 'request heads cut by the snaplen' } }, tsharkExcluded: 'tshark reports the request line it can see as an HTTP request; imdswatch cannot classify a request whose headers were cut and reports no event' }),
  pcapCase('not-imds-123-253', 'Traffic to the neighbours of IMDS that are not IMDS: NTP to 169.254.169.123:123 (UDP), DNS to 169.254.169.253:53 (UDP), and HTTP GETs of metadata paths to 169.254.169.123:80 and 169.254.169.253:80. No events.', () => {
    const http = (server: string, port: number, t: number): ConvPacket[] =>
      tcpConversation({ client: at(C, port), server: at(server, 80), startSec: T0 + t, requests: [httpGet('/latest/meta-data/instance-id', { userAgent: UA.curl, host: server })], responses: [httpResponse(200, 'x')] });
    return [...http('169.254.169.123', 42170, 0), ...http('169.254.169.253', 42171, 1)];
  }, {
    prefix: () => {
      const ntp = Buffer.alloc(48);
      ntp[0] = 0x23; // LI 0, VN 4, mode 3 (client)
      const dns = Buffer.from('12340100000100000000000008696e7374616e6365036c6f63616c0000010001', 'hex');
      return [
        { sec: T0 - 1, nsec: 0, data: ethernet(ipUdp({ src: C, dst: '169.254.169.123', srcPort: 39000, dstPort: 123, payload: ntp })) },
        { sec: T0 - 1, nsec: 500_000, data: ethernet(ipUdp({ src: C, dst: '169.254.169.253', srcPort: 39001, dstPort: 53, payload: dns })) },
      ];
    },
  }),
];

function pcapngCase(name: string, description: string, make: (s: Scenario) => Buffer, expect?: BuiltCase['expect'], tsharkExcluded?: string): EdgeCase {
  return { name, ext: 'pcapng', description, build() {
    const s = new Scenario();
    const file = make(s);
    return { file, events: s.events(), expect, tsharkExcluded };
  } };
}

export const pcapngCases: EdgeCase[] = [
  pcapngCase('pcapng-two-interfaces', 'pcapng with two interfaces of different link types and time resolutions: eth0 (Ethernet, microseconds) carries a v1 GET, tun0 (raw IP, nanoseconds) a token PUT and a v2 GET; packets interleave.', (s) => {
    const a = s.session({ client: at(C, 42200), startSec: T0, stepNs: 200_000 }, [v1('/latest/meta-data/instance-id', UA.curl)]);
    const b = s.session({ client: at('10.8.0.2', 42201), startSec: T0, startNsec: 50_123, stepNs: 150_000 }, [put(UA.goV1), v2('/latest/meta-data/instance-type', UA.goV1)]);
    const recs = interleave(a.map((p) => ({ ...p, iface: 0 })), b.map((p) => ({ ...p, iface: 1 })));
    return pcapng([{
      interfaces: [{ linkType: LINKTYPE.ETHERNET, name: 'eth0' }, { linkType: LINKTYPE.RAW, name: 'tun0', tsresol: 9 }],
      records: recs.map((p) => ({ iface: p.iface, sec: p.sec, nsec: p.nsec, data: p.iface === 0 ? ethernet(ipTcp(p.spec)) : ipTcp(p.spec) })),
    }]);
  }),
  pcapngCase('pcapng-other-blocks', 'pcapng with blocks that carry no packets or no interface time: an unknown block type, a name-resolution block, an interface-statistics block, and simple packet blocks for the final ACKs. v1 GET.', (s) => {
    const pk = v1Only(s, 42210);
    const recs = toRecords(pk, (ip) => ethernet(ip));
    const nrb = Buffer.concat([Buffer.from([1, 0, 8 + 4, 0]), Buffer.from([169, 254, 169, 254]), Buffer.from('imds\0\0\0\0'), Buffer.alloc(4)]);
    const isb = Buffer.alloc(12 + 4);
    return pcapng([{
      interfaces: [{ linkType: LINKTYPE.ETHERNET }],
      unknownBlocks: [{ blockType: 0x0000_0a5a, body: Buffer.from('unknown block body') }, { blockType: 4, body: nrb }],
      records: [...recs.slice(0, -1).map((r) => ({ ...r, iface: 0 })), { blockType: 5, body: isb }],
      simplePackets: [{ data: recs[recs.length - 1].data }],
    }]);
  }),
  pcapngCase('pcapng-two-sections', 'Two pcapng sections in one file (as `cat a.pcapng b.pcapng` makes): the first little-endian with a v1 GET, the second big-endian with a token PUT and a v2 GET.', (s) => {
    const a = v1Only(s, 42220);
    const b = [
      ...s.session({ client: at(C, 42221), startSec: T0 + 1 }, [put(UA.awsCli)]),
      ...s.session({ client: at(C, 42222), startSec: T0 + 2 }, [v2('/latest/meta-data/instance-id', UA.awsCli)]),
    ];
    return pcapng([
      { interfaces: [{ linkType: LINKTYPE.ETHERNET }], records: toRecords(a, (ip) => ethernet(ip)).map((r) => ({ ...r, iface: 0 })) },
      { bigEndian: true, interfaces: [{ linkType: LINKTYPE.LINUX_SLL }], records: toRecords(b, (ip) => sll(ip)).map((r) => ({ ...r, iface: 0 })) },
    ]);
  }),
  pcapngCase('big-endian-pcapng', 'pcapng written big-endian (byte-order magic 1a 2b 3c 4d on disk), nanosecond interface.', (s) =>
    pcapng([{ bigEndian: true, interfaces: [{ linkType: LINKTYPE.ETHERNET, tsresol: 9 }], records: toRecords(standard(s, C, 42230), (ip) => ethernet(ip)).map((r) => ({ ...r, iface: 0 })) }])),
  pcapngCase('pcapng-header-only', 'pcapng with a section header and an interface description but no packets: exit 0, no events.', () =>
    pcapng([{ interfaces: [{ linkType: LINKTYPE.ETHERNET }], records: [] }])),
  pcapngCase('pcapng-garbage-after-blocks', 'A good pcapng conversation (v1 GET, 10 packets) followed by bytes that are not a block (length not a multiple of 4): exit 2 after 10 packets, the event is still reported.', (s) => {
    const good = pcapng([{ interfaces: [{ linkType: LINKTYPE.ETHERNET }], records: toRecords(v1Only(s, 42240), (ip) => ethernet(ip)).map((r) => ({ ...r, iface: 0 })) }]);
    const junk = Buffer.concat([Buffer.from([6, 0, 0, 0, 0x0d, 0x00, 0x00, 0x00]), pseudoRandomBytes(64, 7)]);
    return Buffer.concat([good, junk]);
  }, ERR('E_CAPTURE_MALFORMED', 10), 'tshark stops with an error at the garbage'),
];
