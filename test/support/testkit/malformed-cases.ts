/**
 * The hostile-capture corpus (pcaps/malformed/): each file gives a clean error code
 * or a counted skip, in bounded time and memory. Where hostile packets sit in front
 * of a good v1 conversation, the good call must still be reported.
 */
import { classicPcap, pcapng, type PcapRecord } from './capture-files.js';
import { LINKTYPE, ethernet, internetChecksum, ipv4Tcp, ipv6Tcp } from './packet-builders.js';
import { httpResponse } from './http-text.js';
import { UA } from './fake-values.js';
import { type LabelEvent, type Labels, Scenario } from './edge-scenario.js';
import { v1 } from './edge-exchanges.js';
import { T0, at } from './edge-case.js';
import { tcpConversation, toRecords } from './tcp-conversation.js';

const C = '10.0.2.7';
const GOOD_PORT = 44999;

/** Label event fields left out are not compared (e.g. a User-Agent with invalid UTF-8). */
export type PartialLabelEvent = Partial<LabelEvent> & Pick<LabelEvent, 'version' | 'method' | 'path'>;

export interface MalformedCase {
  name: string;
  ext: 'pcap' | 'pcapng';
  description: string;
  expect: Labels['expect'] & { alsoAccepted?: string[] };
  /** the events that must be reported (exactly these) */
  events: PartialLabelEvent[];
  build(): Buffer;
}

export function malformedLabelsOf(c: MalformedCase): { description: string; expect: MalformedCase['expect']; events: PartialLabelEvent[] } {
  return { description: c.description, expect: c.expect, events: c.events };
}

/** a good v1 conversation after the hostile part, starting at T0 + 10 s */
function good(): { records: PcapRecord[]; event: LabelEvent } {
  const s = new Scenario();
  const pk = s.session({ client: at(C, GOOD_PORT), startSec: T0 + 10 }, [v1('/latest/meta-data/instance-id', UA.curl)]);
  return { records: toRecords(pk, (ip) => ethernet(ip)), event: s.events()[0] };
}
const GOOD_EVENT = good().event;

function pcapWithGood(hostile: PcapRecord[]): Buffer {
  return classicPcap([...hostile, ...good().records], { linkType: LINKTYPE.ETHERNET });
}

function rec(data: Buffer, i = 0, origLen?: number): PcapRecord {
  return { sec: T0, nsec: i * 1000, data, origLen };
}

/** a raw pcap file header with any field values */
function pcapHeader(o: { magic?: number; snaplen?: number; linkType?: number } = {}): Buffer {
  const h = Buffer.alloc(24);
  h.writeUInt32LE(o.magic ?? 0xa1b2c3d4, 0);
  h.writeUInt16LE(2, 4);
  h.writeUInt16LE(4, 6);
  h.writeUInt32LE(o.snaplen ?? 262144, 16);
  h.writeUInt32LE(o.linkType ?? LINKTYPE.ETHERNET, 20);
  return h;
}

function recordHeader(inclLen: number, origLen: number): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt32LE(T0, 0);
  h.writeUInt32LE(inclLen >>> 0, 8);
  h.writeUInt32LE(origLen >>> 0, 12);
  return h;
}

const SYN = { src: C, dst: '169.254.169.254', srcPort: 45000, dstPort: 80, seq: 1, ack: 0, flags: 'S' };

function fixIpv4Checksum(ip: Buffer): Buffer {
  const ihl = Math.max(20, Math.min(ip.length, (ip[0] & 0x0f) * 4));
  ip.writeUInt16BE(0, 10);
  ip.writeUInt16BE(internetChecksum(ip.subarray(0, ihl)), 10);
  return ip;
}

/** an HTTP request sent in MSS-sized segments to IMDS, answered 400 */
function hostileHttp(req: Buffer | string, port: number): PcapRecord[] {
  const len = Buffer.byteLength(req as string, 'latin1');
  const split = Array.from({ length: Math.floor(len / 1448) }, (_, i) => (i + 1) * 1448);
  const pk = tcpConversation({ client: at(C, port), startSec: T0, stepNs: 10_000, requests: [req], responses: [httpResponse(400, '')], split });
  return toRecords(pk, (ip) => ethernet(ip));
}

const DECODE = (hint: string): Labels['expect'] => ({ exitCode: 0, skip: { counter: 'decode.skipped', reasonHint: hint } });
const HTTPERR = (hint: string): Labels['expect'] => ({ exitCode: 0, skip: { counter: 'http.errors', reasonHint: hint } });

export const malformedCases: MalformedCase[] = [
  { name: 'bad-magic', ext: 'pcap', description: '24-byte header with magic 0xdeadbeef.', expect: { exitCode: 2, error: 'E_CAPTURE_BAD_MAGIC', packetsRead: 0 }, events: [],
    build: () => Buffer.concat([pcapHeader({ magic: 0xdeadbeef }), recordHeader(4, 4), Buffer.alloc(4)]) },
  { name: 'bad-magic-html', ext: 'pcap', description: 'An HTML error page saved under a .pcap name.', expect: { exitCode: 2, error: 'E_CAPTURE_BAD_MAGIC', packetsRead: 0 }, events: [],
    build: () => Buffer.from('<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head><body>Not Found</body></html>\n') },
  { name: 'short-header', ext: 'pcap', description: 'Only the first 10 bytes of a pcap file header.', expect: { exitCode: 2, error: 'E_CAPTURE_TRUNCATED', packetsRead: 0 }, events: [],
    build: () => pcapHeader().subarray(0, 10) },
  { name: 'record-length-past-eof', ext: 'pcap', description: 'A record that claims 60 000 bytes (within the snaplen) but the file ends after 100.', expect: { exitCode: 2, error: 'E_CAPTURE_TRUNCATED', packetsRead: 0 }, events: [],
    build: () => Buffer.concat([pcapHeader(), recordHeader(60_000, 60_000), Buffer.alloc(100)]) },
  { name: 'record-length-4g', ext: 'pcap', description: 'A record header claiming 0xfffffff0 captured bytes (more than any snaplen, more than the file).', expect: { exitCode: 2, error: 'E_CAPTURE_MALFORMED', packetsRead: 0 }, events: [],
    build: () => Buffer.concat([pcapHeader(), recordHeader(0xfffffff0, 0xfffffff0), Buffer.alloc(64)]) },
  { name: 'record-256k-claims', ext: 'pcap', description: 'Snaplen 262144 (256 KiB) in the header and a record claiming exactly 256 KiB, of which 1 000 bytes are present: no 256 KiB allocation per claim, clean truncation error.', expect: { exitCode: 2, error: 'E_CAPTURE_TRUNCATED', packetsRead: 0 }, events: [],
    build: () => Buffer.concat([pcapHeader({ snaplen: 262144 }), recordHeader(262144, 262144), Buffer.alloc(1000)]) },
  { name: 'snaplen-4g-header', ext: 'pcap', description: 'File header claiming snaplen 0xffffffff, followed by a normal v1 conversation: the claim must not size any buffer; the call is reported.', expect: { exitCode: 0 }, events: [GOOD_EVENT],
    build: () => { const f = pcapWithGood([]); f.writeUInt32LE(0xffffffff, 16); return f; } },
  { name: 'zero-length-records', ext: 'pcap', description: '1 000 records of 0 captured bytes (half claiming 60 on the wire), then a v1 conversation: zero-length frames are counted skips, the call is reported.', expect: DECODE('frame too short'), events: [GOOD_EVENT],
    build: () => pcapWithGood(Array.from({ length: 1000 }, (_, i) => rec(Buffer.alloc(0), i, i % 2 ? 60 : 0))) },
  { name: 'unknown-linktype', ext: 'pcap', description: 'A file of link type 147 (USER0) with 5 frames: no packet can be read, so the run is an error naming the link type (exit 2, E_LINKTYPE_UNSUPPORTED, made by the replay command from the decode counters), no events.', expect: { exitCode: 2, error: 'E_LINKTYPE_UNSUPPORTED', packetsRead: 5, skip: { counter: 'decode.skipped', reasonHint: 'unknown link type 147' } }, events: [],
    build: () => classicPcap(Array.from({ length: 5 }, (_, i) => rec(Buffer.alloc(60, 0x41), i)), { linkType: 147 }) },
  { name: 'ipv4-ihl-short', ext: 'pcap', description: 'IPv4 packets to IMDS with header length fields 0, 3 and 4 words (< 20 bytes), and 15 words in a 40-byte packet; then a v1 conversation.', expect: DECODE('IPv4 header too short / past packet'), events: [GOOD_EVENT],
    build: () => pcapWithGood([0, 3, 4, 15].map((ihl, i) => { const ip = ipv4Tcp(SYN); ip[0] = 0x40 | ihl; return rec(ethernet(fixIpv4Checksum(ip)), i); })) },
  { name: 'ipv4-total-length-bad', ext: 'pcap', description: 'IPv4 total length smaller than the header (10) and larger than the frame (60 000); then a v1 conversation.', expect: DECODE('IPv4 total length'), events: [GOOD_EVENT],
    build: () => pcapWithGood([10, 60_000].map((tl, i) => { const ip = ipv4Tcp(SYN); ip.writeUInt16BE(tl, 2); return rec(ethernet(fixIpv4Checksum(ip)), i); })) },
  { name: 'tcp-offset-past-packet', ext: 'pcap', description: 'TCP segments to IMDS with data offset 15 (60 bytes) in a 20-byte TCP header, and data offset 2 (< 5); then a v1 conversation.', expect: DECODE('TCP header length'), events: [GOOD_EVENT],
    build: () => pcapWithGood([15, 2].map((off, i) => { const ip = ipv4Tcp({ ...SYN, flags: 'PA', payload: 'GET / HTTP/1.1\r\n' }); ip[20 + 12] = off << 4; return rec(ethernet(ip), i); })) },
  { name: 'tcp-truncated-header', ext: 'pcap', description: 'IPv4 packets to IMDS whose frames end 8 bytes into the TCP header; then a v1 conversation.', expect: DECODE('TCP header truncated'), events: [GOOD_EVENT],
    build: () => pcapWithGood([rec(ethernet(ipv4Tcp(SYN)).subarray(0, 14 + 20 + 8), 0, 54)]) },
  { name: 'ipv6-ext-loop', ext: 'pcap', description: 'IPv6 packets to IMDS whose extension-header chain never reaches TCP: 180 destination-options headers in a row; a hop-by-hop header whose length runs past the packet; a chain ending in "no next header" (59). Then a v1 conversation.', expect: DECODE('IPv6 extension headers'), events: [GOOD_EVENT],
    build: () => {
      const spec = { ...SYN, src: 'fd00::2:7', dst: 'fd00:ec2::254' };
      const long = ipv6Tcp({ ...spec, extHeaders: Array.from({ length: 180 }, () => ({ type: 60 })) });
      // make the last header point to itself (60) instead of TCP and drop TCP
      const cut = Buffer.from(long.subarray(0, 40 + 180 * 8));
      cut[40 + 179 * 8] = 60;
      cut.writeUInt16BE(180 * 8, 4);
      const past = Buffer.from(ipv6Tcp({ ...spec, extHeaders: [{ type: 0 }] }));
      past[41] = 200; // 1608 bytes claimed
      const none = Buffer.from(ipv6Tcp({ ...spec, extHeaders: [{ type: 60 }] }));
      none[40] = 59;
      return pcapWithGood([cut, past, none].map((ip, i) => rec(ethernet(ip), i)));
    } },
  { name: 'ipv6-payload-length-bad', ext: 'pcap', description: 'An IPv6 packet to IMDS whose payload length (65 000) exceeds the frame, and a jumbo-style payload length 0; then a v1 conversation.', expect: DECODE('IPv6 payload length'), events: [GOOD_EVENT],
    build: () => pcapWithGood([65_000, 0].map((pl, i) => { const ip = ipv6Tcp({ ...SYN, src: 'fd00::2:7', dst: 'fd00:ec2::254' }); ip.writeUInt16BE(pl, 4); return rec(ethernet(ip), i); })) },
  { name: 'http-header-1mib', ext: 'pcap', description: 'A GET to IMDS with one header line of 1 MiB, then a token header: an HTTP limit error, bounded memory; the headers after the limit are still read for the token header (docs/design.md#unfinished-requests), so a v2 event (answered 400); then a v1 conversation.', expect: HTTPERR('header too large'),
    events: [{ version: 'v2', method: 'GET', path: '/latest/meta-data/', status: 400, client: at(C, 45100) }, GOOD_EVENT],
    build: () => pcapWithGood(hostileHttp(`GET /latest/meta-data/ HTTP/1.1\r\nHost: 169.254.169.254\r\nX-Junk: ${'A'.repeat(1024 * 1024)}\r\nX-aws-ec2-metadata-token: x\r\n\r\n`, 45100)) },
  { name: 'http-100k-headers', ext: 'pcap', description: 'A GET to IMDS with 100 000 short header lines (about 1 MB) and no token header: an HTTP limit error, and still a v1 event (answered 400; docs/design.md#unfinished-requests); then a v1 conversation.', expect: HTTPERR('too many headers'),
    events: [{ version: 'v1', method: 'GET', path: '/latest/meta-data/', status: 400, client: at(C, 45110) }, GOOD_EVENT],
    build: () => pcapWithGood(hostileHttp(`GET /latest/meta-data/ HTTP/1.1\r\nHost: 169.254.169.254\r\n${'X-h: 1\r\n'.repeat(100_000)}\r\n`, 45110)) },
  { name: 'http-nul-bytes', ext: 'pcap', description: 'A GET to IMDS with NUL bytes in the request target and in a header value (invalid per RFC 9110): still a token-less GET, so a v1 event with the NUL percent-encoded in its path (answered 400; docs/design.md#unfinished-requests); then a v1 conversation.', expect: { exitCode: 0 },
    events: [{ version: 'v1', method: 'GET', path: '/latest/meta%00data/', status: 400, client: at(C, 45120) }, GOOD_EVENT],
    build: () => pcapWithGood(hostileHttp(Buffer.from('GET /latest/meta\0data/ HTTP/1.1\r\nHost: 169.254.169.254\r\nUser-Agent: cu\0rl/7.88.1\r\n\r\n', 'latin1'), 45120)) },
  { name: 'http-invalid-utf8', ext: 'pcap', description: 'A token-less GET whose User-Agent holds bytes that are not UTF-8 (ff fe c3 28): still a valid HTTP request, so a v1 event (User-Agent text not compared); then a v1 conversation.', expect: { exitCode: 0 },
    events: [{ version: 'v1', method: 'GET', path: '/latest/meta-data/instance-id', status: 200, client: at(C, 45130) }, GOOD_EVENT],
    build: () => {
      const req = Buffer.concat([Buffer.from('GET /latest/meta-data/instance-id HTTP/1.1\r\nHost: 169.254.169.254\r\nUser-Agent: agent/'), Buffer.from([0xff, 0xfe, 0xc3, 0x28]), Buffer.from('\r\nAccept: */*\r\n\r\n')]);
      const pk = tcpConversation({ client: at(C, 45130), startSec: T0, requests: [req], responses: [httpResponse(200, 'i-0fake0000imdswatch')] });
      return pcapWithGood(toRecords(pk, (ip) => ethernet(ip)));
    } },
  { name: 'http-no-version', ext: 'pcap', description: 'A request line with no HTTP version ("GET /latest/meta-data/" then headers), answered 400: an HTTP parse error, no event for it, counted as IMDS traffic that could not be read (request-without-version, request-unreadable for the header line after it); then a v1 conversation.', expect: HTTPERR('request line without version'), events: [GOOD_EVENT],
    build: () => pcapWithGood(hostileHttp('GET /latest/meta-data/\r\nHost: 169.254.169.254\r\nUser-Agent: curl/7.88.1\r\n\r\n', 45140)) },
  { name: 'pcapng-no-shb', ext: 'pcapng', description: 'A pcapng file that starts with an interface description block instead of a section header.', expect: { exitCode: 2, error: 'E_CAPTURE_BAD_MAGIC', packetsRead: 0 }, events: [],
    build: () => { const f = pcapng([{ interfaces: [{ linkType: LINKTYPE.ETHERNET }], records: [] }]); return f.subarray(28); } },
  { name: 'pcapng-block-length-small', ext: 'pcapng', description: 'A block whose total length is 8 (less than the 12-byte minimum) after the section header.', expect: { exitCode: 2, error: 'E_CAPTURE_MALFORMED', packetsRead: 0 }, events: [],
    build: () => { const f = pcapng([{ interfaces: [{ linkType: LINKTYPE.ETHERNET }], records: [] }]); f.writeUInt32LE(8, 28 + 4); return f; } },
  { name: 'pcapng-block-length-huge', ext: 'pcapng', description: 'An enhanced packet block claiming a total length of 0x7ffffff0 in a 200-byte file.', expect: { exitCode: 2, error: 'E_CAPTURE_MALFORMED', alsoAccepted: ['E_CAPTURE_TRUNCATED'], packetsRead: 0 }, events: [],
    build: () => { const f = pcapng([{ interfaces: [{ linkType: LINKTYPE.ETHERNET }], records: [{ iface: 0, sec: T0, nsec: 0, data: Buffer.alloc(60) }] }]); f.writeUInt32LE(0x7ffffff0, 28 + 20 + 4); return f; } },
  { name: 'pcapng-epb-caplen-past-block', ext: 'pcapng', description: 'An enhanced packet block whose captured length (262 144) is larger than the block that holds it.', expect: { exitCode: 2, error: 'E_CAPTURE_MALFORMED', packetsRead: 0 }, events: [],
    build: () => { const f = pcapng([{ interfaces: [{ linkType: LINKTYPE.ETHERNET }], records: [{ iface: 0, sec: T0, nsec: 0, data: Buffer.alloc(60) }] }]); f.writeUInt32LE(262144, 28 + 20 + 8 + 12); return f; } },
  { name: 'pcapng-unknown-interface', ext: 'pcapng', description: '50 enhanced packet blocks naming interface 7 when only interface 0 exists (counted skips), then a v1 conversation on interface 0.', expect: { exitCode: 0, skip: { counter: 'read.skipped', reasonHint: 'unknown interface' } }, events: [GOOD_EVENT],
    build: () => pcapng([{ interfaces: [{ linkType: LINKTYPE.ETHERNET }], records: [
      ...Array.from({ length: 50 }, (_, i) => ({ iface: 7, sec: T0, nsec: i, data: ethernet(ipv4Tcp(SYN)) })),
      ...good().records.map((r) => ({ ...r, iface: 0 })),
    ] }]) },
];
