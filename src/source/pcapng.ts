/**
 * pcapng (https://www.ietf.org/archive/id/draft-ietf-opsawg-pcapng-02.html):
 * sections, each a Section Header Block (with its own byte order) followed by
 * Interface Description Blocks and packet blocks. Reads EPB, SPB and the obsolete
 * PB; counts and skips every other block type.
 *
 * A Simple Packet Block has no timestamp and no interface: it belongs to interface
 * 0 and is given the time of the previous packet in the file (0 if none), so that
 * stages which age state by packet time keep working.
 */
import type { ChunkReader } from './chunk-reader.js';
import { captureError } from './capture-errors.js';
import { caplenLimit, type ReaderContext } from './pcap-classic.js';
import { convertTs, tsResolution, type TsResolution } from './pcapng-time.js';

export const PCAPNG_SHB = 0x0a0d0d0a;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
const IDB = 1;
const PB = 2;
const SPB = 3;
const EPB = 6;
/** interfaces kept per section; later IDBs are counted and their packets skipped */
const MAX_INTERFACES = 4096;

const SKIP_NAMES: Record<number, string> = {
  4: 'pcapng-name-resolution-block',
  5: 'pcapng-interface-statistics-block',
  9: 'pcapng-systemd-journal-block',
  10: 'pcapng-decryption-secrets-block',
  0x00000bad: 'pcapng-custom-block',
  0x40000bad: 'pcapng-custom-block',
};

interface Iface {
  linkType: number;
  snaplen: number;
  limit: number;
  res: TsResolution;
}

function bump(skipped: Record<string, number>, key: string): void {
  skipped[key] = (skipped[key] ?? 0) + 1;
}

/** Reads a pcapng file from r.pos (at the first SHB) to the end. */
export function readPcapng(r: ChunkReader, ctx: ReaderContext): void {
  const { path, onFrame, stats, frame } = ctx;
  const maxBlock = r.buf.length;
  // r.buf never changes identity; DataView reads compile to plain loads
  const buf = r.buf;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let le = true;
  let ifaces: Iface[] = [];
  let sections = 0;
  let lastSec = 0;
  let lastNsec = 0;

  const fail = (code: 'E_CAPTURE_TRUNCATED' | 'E_CAPTURE_MALFORMED', what: string, at: number) =>
    captureError(code, path, what, stats.packets, at);

  for (;;) {
    if (r.end - r.pos < 8 && !r.fill(8)) {
      if (r.available === 0) return; // clean end of file
      throw fail('E_CAPTURE_TRUNCATED', 'file ends inside a block header', r.offset);
    }
    let p = r.pos;
    const blockAt = r.base + p;
    const type = view.getUint32(p, le);

    if (type === PCAPNG_SHB) {
      if (!r.fill(12)) throw fail('E_CAPTURE_TRUNCATED', 'file ends inside a section header', blockAt);
      p = r.pos;
      const bom = buf.readUInt32LE(p + 8);
      if (bom === BYTE_ORDER_MAGIC) le = true;
      else if (bom === 0x4d3c2b1a) le = false;
      else if (sections === 0) {
        throw captureError('E_CAPTURE_BAD_MAGIC', path, 'pcapng byte-order magic not found', 0, blockAt + 8);
      } else throw fail('E_CAPTURE_MALFORMED', 'bad byte-order magic in a section header', blockAt + 8);
      sections++;
      ifaces = [];
    }

    const len = view.getUint32(p + 4, le);
    if (len < 12 || len % 4 !== 0 || (type === PCAPNG_SHB && len < 28)) {
      throw fail('E_CAPTURE_MALFORMED', `invalid block length ${len}`, blockAt);
    }
    const isPacket = type === EPB || type === SPB || type === PB;
    if (len > maxBlock) {
      if (isPacket || type === IDB || type === PCAPNG_SHB) {
        throw fail('E_CAPTURE_MALFORMED', `block length ${len} exceeds the limit ${maxBlock}`, blockAt);
      }
      // a large block we do not need: read through it without holding it
      if (!r.skip(len - 4)) throw fail('E_CAPTURE_TRUNCATED', 'file ends inside a block', blockAt);
      if (!r.fill(4)) throw fail('E_CAPTURE_TRUNCATED', 'file ends inside a block', blockAt);
      const trail = view.getUint32(r.pos, le);
      if (trail !== len) throw fail('E_CAPTURE_MALFORMED', 'trailing block length does not match', blockAt);
      r.pos += 4;
      bump(stats.skipped, SKIP_NAMES[type] ?? 'pcapng-unknown-block');
      continue;
    }
    if (r.end - p < len) {
      if (!r.fill(len)) throw fail('E_CAPTURE_TRUNCATED', 'file ends inside a block', blockAt);
      p = r.pos;
    }
    const trail = view.getUint32(p + len - 4, le);
    if (trail !== len) throw fail('E_CAPTURE_MALFORMED', 'trailing block length does not match', blockAt);

    if (type === EPB || type === PB) {
      if (len < 32) throw fail('E_CAPTURE_MALFORMED', `packet block length ${len} too short`, blockAt);
      let ifIndex: number, hi: number, lo: number, caplen: number, origLen: number;
      ifIndex = type === EPB ? view.getUint32(p + 8, le) : view.getUint16(p + 8, le);
      hi = view.getUint32(p + 12, le);
      lo = view.getUint32(p + 16, le);
      caplen = view.getUint32(p + 20, le);
      origLen = view.getUint32(p + 24, le);
      if (caplen > len - 32) {
        throw fail('E_CAPTURE_MALFORMED', `packet length ${caplen} exceeds its block`, blockAt);
      }
      const ifc = ifaces[ifIndex];
      if (ifc === undefined) {
        bump(stats.skipped, 'pcapng-unknown-interface');
        r.pos = p + len;
        continue;
      }
      if (caplen > ifc.limit) {
        throw fail('E_CAPTURE_MALFORMED', `packet length ${caplen} exceeds the limit ${ifc.limit}`, blockAt);
      }
      convertTs(ifc.res, hi, lo, frame);
      lastSec = frame.sec;
      lastNsec = frame.nsec;
      frame.linkType = ifc.linkType;
      frame.iface = ifIndex;
      frame.origLen = origLen;
      frame.setBytes(p + 28, caplen);
      r.pos = p + len;
      stats.packets++;
      onFrame(frame);
      continue;
    }

    if (type === SPB) {
      if (len < 16) throw fail('E_CAPTURE_MALFORMED', `packet block length ${len} too short`, blockAt);
      const origLen = view.getUint32(p + 8, le);
      const ifc = ifaces[0];
      if (ifc === undefined) {
        bump(stats.skipped, 'pcapng-unknown-interface');
        r.pos = p + len;
        continue;
      }
      let caplen = Math.min(origLen, len - 16);
      if (ifc.snaplen > 0 && caplen > ifc.snaplen) caplen = ifc.snaplen;
      frame.sec = lastSec;
      frame.nsec = lastNsec;
      frame.linkType = ifc.linkType;
      frame.iface = 0;
      frame.origLen = origLen;
      frame.setBytes(p + 12, caplen);
      r.pos = p + len;
      stats.packets++;
      onFrame(frame);
      continue;
    }

    if (type === IDB) {
      if (len < 20) throw fail('E_CAPTURE_MALFORMED', `interface block length ${len} too short`, blockAt);
      const linkType = view.getUint16(p + 8, le);
      const snaplen = view.getUint32(p + 12, le);
      let tsresol: number | undefined;
      let offsetSec = 0;
      const optEnd = p + len - 4;
      for (let o = p + 16; o + 4 <= optEnd; ) {
        const code = view.getUint16(o, le);
        const olen = view.getUint16(o + 2, le);
        if (code === 0 || o + 4 + olen > optEnd) break;
        if (code === 9 && olen >= 1) tsresol = buf[o + 4];
        else if (code === 14 && olen >= 8) {
          offsetSec = le
            ? buf.readInt32LE(o + 8) * 4294967296 + buf.readUInt32LE(o + 4)
            : buf.readInt32BE(o + 4) * 4294967296 + buf.readUInt32BE(o + 8);
        }
        o += 4 + ((olen + 3) & ~3);
      }
      if (ifaces.length < MAX_INTERFACES) {
        ifaces.push({ linkType, snaplen, limit: caplenLimit(snaplen), res: tsResolution(tsresol, offsetSec) });
      } else bump(stats.skipped, 'pcapng-too-many-interfaces');
      r.pos = p + len;
      continue;
    }

    if (type !== PCAPNG_SHB) bump(stats.skipped, SKIP_NAMES[type] ?? 'pcapng-unknown-block');
    r.pos = p + len;
  }
}
