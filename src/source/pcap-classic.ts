/**
 * Classic libpcap file format (magic 0xa1b2c3d4 microseconds, 0xa1b23c4d
 * nanoseconds, either byte order): a 24-byte file header, then records of a
 * 16-byte header (ts_sec, ts_frac, caplen, origlen) and caplen bytes.
 */
import type { ChunkReader } from './chunk-reader.js';
import { captureError } from './capture-errors.js';
import type { ChunkFrame, FrameSink, ReadStats } from './frame.js';

/** libpcap's MAXIMUM_SNAPLEN: no real record is longer */
export const MAX_CAPLEN = 262144;
/** tolerated excess of caplen over the file's snaplen (writers that round, GSO on loopback) */
export const CAPLEN_SLACK = 65536;

export const PCAP_MAGIC_US = 0xa1b2c3d4;
export const PCAP_MAGIC_NS = 0xa1b23c4d;

export interface ReaderContext {
  path: string;
  onFrame: FrameSink;
  stats: ReadStats;
  /** the one Frame object this reader fills and hands out (over the reader's buffer) */
  frame: ChunkFrame;
}

/** Largest caplen accepted for a given snaplen. */
export function caplenLimit(snaplen: number): number {
  if (snaplen <= 0 || snaplen >= MAX_CAPLEN) return MAX_CAPLEN;
  return Math.min(MAX_CAPLEN, snaplen + CAPLEN_SLACK);
}

/** Reads a classic pcap from r.pos (at the magic) to the end. */
export function readClassicPcap(r: ChunkReader, le: boolean, nano: boolean, ctx: ReaderContext): void {
  const { path, onFrame, stats, frame } = ctx;
  if (!r.fill(24)) {
    throw captureError('E_CAPTURE_TRUNCATED', path, 'file ends inside the pcap file header', 0, r.offset);
  }
  const buf = r.buf; // never changes identity; fill() moves data within it
  const h = r.pos;
  const snaplen = le ? buf.readUInt32LE(h + 16) : buf.readUInt32BE(h + 16);
  const linkType = (le ? buf.readUInt32LE(h + 20) : buf.readUInt32BE(h + 20)) & 0xffff;
  r.pos = h + 24;
  stats.bytes = r.offset;

  const limit = caplenLimit(snaplen);
  const fracPerSec = nano ? 1_000_000_000 : 1_000_000;
  const fracToNs = nano ? 1 : 1000;
  frame.linkType = linkType;
  frame.iface = 0;
  let packets = stats.packets;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);

  for (;;) {
    let pos = r.pos;
    if (r.end - pos < 16) {
      if (!r.fill(16)) {
        if (r.available === 0) break; // clean end of file
        stats.packets = packets;
        throw captureError('E_CAPTURE_TRUNCATED', path, 'file ends inside a record header', packets, r.offset);
      }
      pos = r.pos;
    }
    // DataView reads compile to plain loads (Buffer.readUInt32LE validates its argument)
    let sec = view.getUint32(pos, le);
    let frac = view.getUint32(pos + 4, le);
    const caplen = view.getUint32(pos + 8, le);
    const origLen = view.getUint32(pos + 12, le);
    if (caplen > limit) {
      stats.packets = packets;
      throw captureError(
        'E_CAPTURE_MALFORMED',
        path,
        `record length ${caplen} exceeds the limit ${limit} (snaplen ${snaplen})`,
        packets,
        r.base + pos,
      );
    }
    const need = 16 + caplen;
    if (r.end - pos < need) {
      if (!r.fill(need)) {
        stats.packets = packets;
        throw captureError('E_CAPTURE_TRUNCATED', path, 'file ends inside a packet record', packets, r.offset);
      }
      pos = r.pos;
    }
    if (frac >= fracPerSec) {
      sec += Math.floor(frac / fracPerSec);
      frac %= fracPerSec;
    }
    frame.sec = sec;
    frame.nsec = frac * fracToNs;
    frame.origLen = origLen;
    frame.setBytes(pos + 16, caplen);
    r.pos = pos + need;
    packets++;
    stats.packets = packets;
    onFrame(frame);
  }
  stats.packets = packets;
  stats.bytes = r.offset;
}
