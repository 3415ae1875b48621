/**
 * Reads a pcap or pcapng capture file (or stdin, path '-') and hands each frame to
 * a callback, synchronously, in file order.
 *
 * Memory is one read buffer whatever the file size: 1 MiB for a classic pcap, 4 MiB for
 * pcapng (whose largest block must fit in it: the limit stays 4 MiB), or `chunkSize` when
 * given (at least 1 MiB). A classic pcap is read in 1 MiB chunks because the buffer then stays
 * in the CPU's cache between the read and the parse (docs/design.md#read-chunk); 8 MiB and more
 * were slower still. For speed the reader hands out ONE Frame object, refilled
 * for every packet, whose `data` is a view into the read buffer, made on first use
 * (`chunk`/`chunkAt`/`caplen` give the bytes without one): both are valid only during
 * the callback. A consumer that keeps anything copies it.
 *
 * Errors are CaptureFormatError with a stable code, thrown only after every good
 * frame before the problem was delivered.
 */
import * as fs from 'node:fs';
import { ChunkReader, ReadFailure } from './chunk-reader.js';
import { captureError, describePath } from './capture-errors.js';
import { CaptureFormatError, ChunkFrame, type FrameSink, type ReadOptions, type ReadStats } from './frame.js';
import { PCAP_MAGIC_NS, PCAP_MAGIC_US, readClassicPcap, type ReaderContext } from './pcap-classic.js';
import { PCAPNG_SHB, readPcapng } from './pcapng.js';

/** pcapng's read buffer, and so its largest block */
export const DEFAULT_CHUNK_SIZE = 4 * 1024 * 1024;
/** a classic pcap's read buffer (its records are at most MAX_CAPLEN + 16 bytes) */
export const CLASSIC_CHUNK_SIZE = 1024 * 1024;
export const MIN_CHUNK_SIZE = 1024 * 1024;

export type CaptureFormat = 'pcap' | 'pcapng';

/** Which format the first bytes announce, or null. */
export function detectFormat(head: Buffer): CaptureFormat | null {
  if (head.length < 4) return null;
  const m = head.readUInt32LE(0);
  const mb = head.readUInt32BE(0);
  if (m === PCAPNG_SHB) return 'pcapng';
  if (m === PCAP_MAGIC_US || m === PCAP_MAGIC_NS || mb === PCAP_MAGIC_US || mb === PCAP_MAGIC_NS) return 'pcap';
  return null;
}

/** True when these (fewer than 4) bytes could start a capture file. */
function isMagicPrefix(head: Buffer): boolean {
  const magics = [0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1, PCAPNG_SHB];
  return magics.some((m) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(m);
    return head.every((v, i) => b[i] === v);
  });
}

function ioError(path: string, err: unknown, packets: number, offset: number): CaptureFormatError {
  const code = err instanceof ReadFailure ? err.errno : ((err as NodeJS.ErrnoException).code ?? 'EIO');
  const hint =
    code === 'ENOENT'
      ? 'the file does not exist: check the path'
      : code === 'EACCES' || code === 'EPERM'
        ? 'permission denied: run as a user that can read it'
        : code === 'EISDIR'
          ? 'it is a directory: give a capture file'
          : 'check the file and the disk';
  const msg = `${describePath(path)}: cannot read (${code}) at byte ${offset} after ${packets} packets (E_CAPTURE_IO); ${hint}`;
  return new CaptureFormatError('E_CAPTURE_IO', msg, packets, offset);
}

export function readCaptureFile(path: string, onFrame: FrameSink, opts: ReadOptions = {}): ReadStats {
  const stats: ReadStats = { packets: 0, bytes: 0, skipped: {} };
  const chunkSize = opts.chunkSize === undefined ? null : Math.max(MIN_CHUNK_SIZE, opts.chunkSize);
  const isStdin = path === '-';
  let fd: number;
  let total: number | null = null;
  try {
    fd = isStdin ? 0 : fs.openSync(path, 'r');
  } catch (err) {
    throw ioError(path, err, 0, 0);
  }
  try {
    if (!isStdin) {
      const st = fs.fstatSync(fd);
      if (st.isDirectory()) throw ioError(path, { code: 'EISDIR' }, 0, 0);
      if (st.isFile()) total = st.size;
    }
    const r = new ChunkReader(fd, chunkSize ?? CLASSIC_CHUNK_SIZE, total, opts.onProgress);
    try {
      r.fill(4);
      if (r.available === 0) {
        throw captureError('E_CAPTURE_EMPTY', path, 'empty file', 0, 0);
      }
      const head = r.buf.subarray(r.pos, r.end);
      const format = detectFormat(head);
      if (format === null) {
        if (head.length < 4 && isMagicPrefix(head)) {
          throw captureError('E_CAPTURE_TRUNCATED', path, 'file ends inside the magic number', 0, head.length);
        }
        throw captureError('E_CAPTURE_BAD_MAGIC', path, 'unknown magic number', 0, 0);
      }
      if (format === 'pcapng') {
        if (chunkSize === null) r.grow(DEFAULT_CHUNK_SIZE);
        readPcapng(r, { path, onFrame, stats, frame: new ChunkFrame(r.buf) });
      } else {
        const ctx: ReaderContext = { path, onFrame, stats, frame: new ChunkFrame(r.buf) };
        const m = head.readUInt32LE(0);
        const le = m === PCAP_MAGIC_US || m === PCAP_MAGIC_NS;
        const nano = le ? m === PCAP_MAGIC_NS : head.readUInt32BE(0) === PCAP_MAGIC_NS;
        readClassicPcap(r, le, nano, ctx);
      }
      r.finish();
    } catch (err) {
      if (err instanceof ReadFailure) throw ioError(path, err, stats.packets, r.offset);
      throw err;
    } finally {
      stats.bytes = r.offset;
    }
    return stats;
  } finally {
    if (!isStdin) fs.closeSync(fd);
  }
}
