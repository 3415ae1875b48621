/**
 * Generators of flood captures for the replay robustness tests, written straight to disk
 * in 4 MiB chunks (a million connections never sit in memory). Classic pcap,
 * microsecond, LINKTYPE_RAW (IPv4 without a link header), correct IPv4 and TCP checksums.
 * Deterministic: the same parameters give the same bytes.
 *
 * Every flood is interleaved with "normal" IMDSv1 calls from NORMAL_CLIENT with
 * NORMAL_UA and paths /latest/meta-data/normal-K, so a test can check that the calls
 * made during the flood are still reported.
 */
import { closeSync, openSync, writeSync } from 'node:fs';

export const IMDS = '169.254.169.254';
export const NORMAL_CLIENT = '10.200.0.1';
export const NORMAL_UA = 'normal-probe/1.0';
const LINKTYPE_RAW = 101;

function ip4(a: string): number {
  const p = a.split('.').map(Number);
  return ((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0;
}

/** one's-complement sum of 16-bit words of b[start, end) */
function sum16(b: Buffer, start: number, end: number, acc = 0): number {
  let i = start;
  for (; i + 1 < end; i += 2) acc += (b[i]! << 8) | b[i + 1]!;
  if (i < end) acc += b[i]! << 8;
  return acc;
}

function fold(acc: number): number {
  while (acc > 0xffff) acc = (acc & 0xffff) + (acc >>> 16);
  return ~acc & 0xffff;
}

export interface Seg {
  src: number;
  dst: number;
  sport: number;
  dport: number;
  seq: number;
  ack: number;
  /** TCP flag bits: FIN 1, SYN 2, RST 4, PSH 8, ACK 16 */
  flags: number;
  payload?: Buffer;
}

/** A streaming classic-pcap writer. Time is given per packet in microseconds. */
export class PcapStream {
  private readonly fd: number;
  private buf = Buffer.allocUnsafe(4 * 1024 * 1024);
  private off = 0;
  packets = 0;
  bytes = 0;

  constructor(path: string) {
    this.fd = openSync(path, 'w');
    const h = Buffer.alloc(24);
    h.writeUInt32LE(0xa1b2c3d4, 0);
    h.writeUInt16LE(2, 4);
    h.writeUInt16LE(4, 6);
    h.writeUInt32LE(262144, 16);
    h.writeUInt32LE(LINKTYPE_RAW, 20);
    this.put(h);
  }

  private put(b: Buffer): void {
    if (this.off + b.length > this.buf.length) this.flush();
    if (b.length > this.buf.length) {
      writeSync(this.fd, b);
    } else {
      b.copy(this.buf, this.off);
      this.off += b.length;
    }
    this.bytes += b.length;
  }

  private flush(): void {
    let w = 0;
    while (w < this.off) w += writeSync(this.fd, this.buf, w, this.off - w);
    this.off = 0;
  }

  /** one IPv4/TCP packet at time `usec` (microseconds since the epoch) */
  tcp(usec: number, s: Seg): void {
    this.packet(usec, tcpPacket(s));
  }

  /** any raw IP packet at time `usec` */
  packet(usec: number, ip: Buffer): void {
    const rec = Buffer.alloc(16);
    rec.writeUInt32LE(Math.floor(usec / 1e6), 0);
    rec.writeUInt32LE(usec % 1e6, 4);
    rec.writeUInt32LE(ip.length, 8);
    rec.writeUInt32LE(ip.length, 12);
    this.put(rec);
    this.put(ip);
    this.packets++;
  }

  close(): void {
    this.flush();
    closeSync(this.fd);
  }
}

/** an IPv4/TCP packet (DF set, TTL 64, IP id `ipId`) with correct checksums */
export function tcpPacket(s: Seg, ipId = 0): Buffer {
  const payload = s.payload ?? EMPTY;
  const len = 40 + payload.length;
  const rec = Buffer.alloc(len);
  rec[0] = 0x45;
  rec.writeUInt16BE(len, 2);
  rec.writeUInt16BE(ipId, 4);
  rec.writeUInt16BE(0x4000, 6);
  rec[8] = 64;
  rec[9] = 6;
  rec.writeUInt32BE(s.src, 12);
  rec.writeUInt32BE(s.dst, 16);
  rec.writeUInt16BE(fold(sum16(rec, 0, 20)), 10);
  const t = 20;
  rec.writeUInt16BE(s.sport, t);
  rec.writeUInt16BE(s.dport, t + 2);
  rec.writeUInt32BE(s.seq >>> 0, t + 4);
  rec.writeUInt32BE(s.ack >>> 0, t + 8);
  rec[t + 12] = 0x50;
  rec[t + 13] = s.flags;
  rec.writeUInt16BE(64240, t + 14);
  payload.copy(rec, t + 20);
  const pseudo = (s.src >>> 16) + (s.src & 0xffff) + (s.dst >>> 16) + (s.dst & 0xffff) + 6 + 20 + payload.length;
  rec.writeUInt16BE(fold(sum16(rec, t, t + 20 + payload.length, pseudo)), t + 16);
  return rec;
}

/** IPv4 fragment [start, end) of the data of `packet` (a 20-byte-header IPv4 packet), MF unless it reaches the end */
export function ipv4FragmentOf(packet: Buffer, start: number, end: number): Buffer {
  const body = packet.subarray(20);
  const part = body.subarray(start, Math.min(end, body.length));
  const f = Buffer.alloc(20 + part.length);
  packet.copy(f, 0, 0, 20);
  f.writeUInt16BE(20 + part.length, 2);
  f.writeUInt16BE((end < body.length ? 0x2000 : 0) | (start >> 3), 6);
  f.writeUInt16BE(0, 10);
  f.writeUInt16BE(fold(sum16(f, 0, 20)), 10);
  part.copy(f, 20);
  return f;
}

const EMPTY = Buffer.alloc(0);
const SYN = 2;
const ACK = 16;
const PSH = 8;
const FIN = 1;

export function getRequest(path: string, ua: string): Buffer {
  return Buffer.from(`GET ${path} HTTP/1.1\r\nHost: ${IMDS}\r\nUser-Agent: ${ua}\r\nAccept: */*\r\n\r\n`, 'latin1');
}

const RESPONSE = Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 19\r\nConnection: close\r\nServer: EC2ws\r\n\r\ni-0123456789abcdef0', 'latin1');

/**
 * A complete one-shot connection (SYN, SYN-ACK, request, response with FIN, client FIN):
 * five packets 10 µs apart starting at `usec`.
 */
export function shortConnection(w: PcapStream, usec: number, client: number, port: number, request: Buffer, isn = port * 7919): void {
  const srv = ip4(IMDS);
  const sisn = (isn ^ 0x5a5a5a5a) >>> 0;
  const up = (seq: number, ack: number, flags: number, payload?: Buffer): Seg => ({ src: client, dst: srv, sport: port, dport: 80, seq, ack, flags, payload });
  const down = (seq: number, ack: number, flags: number, payload?: Buffer): Seg => ({ src: srv, dst: client, sport: 80, dport: port, seq, ack, flags, payload });
  w.tcp(usec, up(isn, 0, SYN));
  w.tcp(usec + 10, down(sisn, isn + 1, SYN | ACK));
  w.tcp(usec + 20, up(isn + 1, sisn + 1, PSH | ACK, request));
  w.tcp(usec + 30, down(sisn + 1, isn + 1 + request.length, PSH | ACK | FIN, RESPONSE));
  w.tcp(usec + 40, up(isn + 1 + request.length, sisn + 2 + RESPONSE.length, FIN | ACK));
}

/** the normal call number k (a v1 GET from NORMAL_CLIENT) */
export function normalCall(w: PcapStream, usec: number, k: number): void {
  shortConnection(w, usec, ip4(NORMAL_CLIENT), 20000 + (k % 40000), getRequest(`/latest/meta-data/normal-${k}`, NORMAL_UA));
}

export interface FloodFile {
  path: string;
  packets: number;
  bytes: number;
  /** normal v1 calls in the file */
  normalCalls: number;
}

const T0 = 1_700_000_000 * 1e6;

/**
 * `flows` half-open flows (a client SYN each, never answered) from distinct 4-tuples over
 * 10.50.0.0/16, all within a few seconds of packet time (no idle timeout can free them),
 * with one normal call after every `normalEvery` SYNs.
 */
export function writeHalfOpenFlood(path: string, flows: number, normalEvery = 1000): FloodFile {
  const w = new PcapStream(path);
  const srv = ip4(IMDS);
  const base = ip4('10.50.0.0');
  let t = T0;
  let normal = 0;
  for (let i = 0; i < flows; i++) {
    const port = 1024 + (i % 60000);
    const client = base + Math.floor(i / 60000) + 1;
    w.tcp(t, { src: client, dst: srv, sport: port, dport: 80, seq: (i * 2654435761) >>> 0, ack: 0, flags: SYN });
    t += 20;
    if ((i + 1) % normalEvery === 0) {
      normalCall(w, t, normal++);
      t += 50;
    }
  }
  w.close();
  return { path, packets: w.packets, bytes: w.bytes, normalCalls: normal };
}

/**
 * `conns` complete one-shot v1 connections (flood user agent, client addresses in
 * 10.51.0.0/16, ports reused only after 60 000 connections of the same address) with one
 * normal call after every `normalEvery` connections.
 */
export function writeShortConnFlood(path: string, conns: number, normalEvery = 10_000): FloodFile {
  const w = new PcapStream(path);
  const base = ip4('10.51.0.0');
  const request = getRequest('/latest/meta-data/instance-id', 'flood/1.0');
  let t = T0;
  let normal = 0;
  for (let i = 0; i < conns; i++) {
    shortConnection(w, t, base + Math.floor(i / 60000) + 1, 1024 + (i % 60000), request, (i * 2654435761) >>> 0);
    t += 50;
    if ((i + 1) % normalEvery === 0) {
      normalCall(w, t, normal++);
      t += 50;
    }
  }
  w.close();
  return { path, packets: w.packets, bytes: w.bytes, normalCalls: normal };
}

/**
 * One client (10.52.0.1:40000) that sends `GET / HTTP/1.1\r\nX: ` and then `headerBytes`
 * of header value in 1400-byte segments, never ending the header; one normal call after
 * every `normalEvery` segments.
 */
export function writeEndlessHeader(path: string, headerBytes: number, normalEvery = 1000): FloodFile {
  const w = new PcapStream(path);
  const srv = ip4(IMDS);
  const client = ip4('10.52.0.1');
  const port = 40000;
  const isn = 1000;
  let t = T0;
  let normal = 0;
  w.tcp(t, { src: client, dst: srv, sport: port, dport: 80, seq: isn, ack: 0, flags: SYN });
  w.tcp(t + 10, { src: srv, dst: client, sport: 80, dport: port, seq: 5000, ack: isn + 1, flags: SYN | ACK });
  const first = Buffer.from('GET / HTTP/1.1\r\nX: ', 'latin1');
  w.tcp(t + 20, { src: client, dst: srv, sport: port, dport: 80, seq: isn + 1, ack: 5001, flags: PSH | ACK, payload: first });
  let seq = isn + 1 + first.length;
  t += 30;
  const piece = Buffer.alloc(1400, 'a');
  let sent = 0;
  let segs = 0;
  while (sent < headerBytes) {
    const p = headerBytes - sent >= piece.length ? piece : piece.subarray(0, headerBytes - sent);
    w.tcp(t, { src: client, dst: srv, sport: port, dport: 80, seq, ack: 5001, flags: ACK, payload: p });
    seq = (seq + p.length) >>> 0; // wraps past 2^32 on long runs, as real sequence numbers do
    sent += p.length;
    t += 10;
    if (++segs % normalEvery === 0) {
      normalCall(w, t, normal++);
      t += 50;
    }
  }
  w.close();
  return { path, packets: w.packets, bytes: w.bytes, normalCalls: normal };
}

/**
 * `datagrams` IPv4 datagrams to IMDS of which only the first fragment (MF set, 1400 data
 * bytes) ever comes, each from its own source and id (10.53.0.0/16), all within a few
 * seconds of packet time (no timeout frees them), with one normal call after every
 * `normalEvery` fragments whose request packet is itself cut into two fragments.
 */
export function writeFragmentFlood(path: string, datagrams: number, normalEvery = 1000): FloodFile {
  const w = new PcapStream(path);
  const srv = ip4(IMDS);
  const base = ip4('10.53.0.0');
  const filler = Buffer.alloc(1400, 'f'); // 20 TCP header bytes + 1400: the 1400-byte first fragment has MF set
  let t = T0;
  let normal = 0;
  for (let i = 0; i < datagrams; i++) {
    const whole = tcpPacket({ src: base + 1 + (i % 65000), dst: srv, sport: 1024 + (i % 60000), dport: 80, seq: i, ack: 0, flags: PSH | ACK, payload: filler }, i & 0xffff);
    w.packet(t, ipv4FragmentOf(whole, 0, 1400));
    t += 20;
    if ((i + 1) % normalEvery === 0) {
      fragmentedNormalCall(w, t, normal++);
      t += 50;
    }
  }
  w.close();
  return { path, packets: w.packets, bytes: w.bytes, normalCalls: normal };
}

/** normal call number k with its request packet cut into two IPv4 fragments (the second one carries the header end) */
function fragmentedNormalCall(w: PcapStream, usec: number, k: number): void {
  const client = ip4(NORMAL_CLIENT);
  const srv = ip4(IMDS);
  const port = 20000 + (k % 40000);
  const isn = port * 7919;
  const sisn = (isn ^ 0x5a5a5a5a) >>> 0;
  const request = getRequest(`/latest/meta-data/normal-${k}`, NORMAL_UA);
  w.tcp(usec, { src: client, dst: srv, sport: port, dport: 80, seq: isn, ack: 0, flags: SYN });
  w.tcp(usec + 10, { src: srv, dst: client, sport: 80, dport: port, seq: sisn, ack: isn + 1, flags: SYN | ACK });
  const req = tcpPacket({ src: client, dst: srv, sport: port, dport: 80, seq: isn + 1, ack: sisn + 1, flags: PSH | ACK, payload: request }, 0x8000 | (k & 0x7fff));
  w.packet(usec + 20, ipv4FragmentOf(req, 0, 48));
  w.packet(usec + 21, ipv4FragmentOf(req, 48, 4096));
  w.tcp(usec + 30, { src: srv, dst: client, sport: 80, dport: port, seq: sisn + 1, ack: isn + 1 + request.length, flags: PSH | ACK | FIN, payload: RESPONSE });
  w.tcp(usec + 40, { src: client, dst: srv, sport: port, dport: 80, seq: isn + 1 + request.length, ack: sisn + 2 + RESPONSE.length, flags: FIN | ACK });
}

/** a request head of exactly `bytes` bytes (≥ 80) that never ends: complete header lines, then a last line with no LF */
export function endlessHead(i: number, bytes: number): Buffer {
  const start = `GET /latest/meta-data/iam/security-credentials/ HTTP/1.1\r\nHost: ${IMDS}\r\nUser-Agent: head-flood/${i % 1000}\r\n`;
  const lines: string[] = [start];
  let n = start.length;
  // full 100-byte header lines while more than one line's worth is left, then an unfinished one
  for (let k = 0; n + 100 + 10 < bytes; k++) {
    const name = `X-Pad-${k}: `;
    const line = name + 'p'.repeat(100 - name.length - 2) + '\r\n';
    lines.push(line);
    n += line.length;
  }
  lines.push('X-Last: ' + 'q'.repeat(Math.max(0, bytes - n - 8)));
  return Buffer.from(lines.join(''), 'latin1');
}

export interface MixOptions {
  /** half-open flows that send a request head of `headBytes` that never ends */
  heads: number;
  headBytes: number;
  /** flows whose first data segment (`oooBytes`) arrives after a hole that is never filled */
  outOfOrder: number;
  oooBytes: number;
  /** SYN-only half-open flows */
  syns: number;
  /** one normal call after every `normalEvery` flood flows (0: none in between) */
  normalEvery: number;
}

/**
 * A flood of flows that each hold memory in the chain, then ONE normal IMDSv1 call at the end
 * (after every flood flow, with the table full): `heads` half-open flows (client SYN, server
 * SYN-ACK, one segment of a request head that never ends), `outOfOrder` flows whose data
 * starts after a hole never filled (the reassembler must buffer it), `syns` SYN-only flows,
 * interleaved round-robin from distinct 4-tuples (10.54.0.0/16), all within a few seconds of
 * packet time (no idle timeout frees them); normal calls every `normalEvery` flood flows too.
 */
export function writeHeldBytesFlood(path: string, o: MixOptions): FloodFile {
  const w = new PcapStream(path);
  const srv = ip4(IMDS);
  const base = ip4('10.54.0.0');
  const ooo = Buffer.alloc(o.oooBytes, 'o');
  const total = o.heads + o.outOfOrder + o.syns;
  const kinds: Array<'head' | 'ooo' | 'syn'> = [];
  let t = T0;
  let normal = 0;
  const left = { head: o.heads, ooo: o.outOfOrder, syn: o.syns };
  for (let i = 0; i < total; i++) {
    // round-robin over the kinds that have flows left
    kinds.length = 0;
    if (left.head > 0) kinds.push('head');
    if (left.ooo > 0) kinds.push('ooo');
    if (left.syn > 0) kinds.push('syn');
    const kind = kinds[i % kinds.length]!;
    left[kind]--;
    const port = 1024 + (i % 60000);
    const client = base + Math.floor(i / 60000) + 1;
    const isn = (i * 2654435761) >>> 0;
    const sisn = (isn ^ 0x5a5a5a5a) >>> 0;
    w.tcp(t, { src: client, dst: srv, sport: port, dport: 80, seq: isn, ack: 0, flags: SYN });
    if (kind !== 'syn') {
      w.tcp(t + 5, { src: srv, dst: client, sport: 80, dport: port, seq: sisn, ack: isn + 1, flags: SYN | ACK });
      if (kind === 'head') {
        w.tcp(t + 10, { src: client, dst: srv, sport: port, dport: 80, seq: isn + 1, ack: sisn + 1, flags: PSH | ACK, payload: endlessHead(i, o.headBytes) });
      } else {
        // 1000 bytes never seen before it: the segment waits in the reassembler
        w.tcp(t + 10, { src: client, dst: srv, sport: port, dport: 80, seq: isn + 1 + 1000, ack: sisn + 1, flags: PSH | ACK, payload: ooo });
      }
    }
    t += 20;
    if (o.normalEvery > 0 && (i + 1) % o.normalEvery === 0) {
      normalCall(w, t, normal++);
      t += 50;
    }
  }
  normalCall(w, t, normal++);
  w.close();
  return { path, packets: w.packets, bytes: w.bytes, normalCalls: normal };
}
