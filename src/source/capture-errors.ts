/**
 * One-line, content-free error messages for capture files. A message names the
 * file, what is wrong, how many good packets came before it and the byte offset,
 * and says what to do. It never contains packet bytes.
 */
import { CaptureFormatError, type CaptureErrorCode } from './frame.js';

const ADVICE: Record<CaptureErrorCode, string> = {
  E_CAPTURE_EMPTY: 'the file has no data; check that the capture was written',
  E_CAPTURE_BAD_MAGIC: 'not a pcap or pcapng file; give a file written by tcpdump, tshark, dumpcap or libpcap',
  E_CAPTURE_TRUNCATED: 'the file was cut short (capture still running, or copy incomplete); packets before this point were read',
  E_CAPTURE_MALFORMED: 'the file is corrupt from this point on; packets before it were read',
  E_CAPTURE_IO: 'check that the path exists and is readable by this user',
};

/** A single-line description of a path (control characters replaced). */
export function describePath(path: string): string {
  if (path === '-') return 'stdin';
  // eslint-disable-next-line no-control-regex
  return path.replace(/[\x00-\x1f\x7f]/g, '?');
}

export function captureError(
  code: CaptureErrorCode,
  path: string,
  what: string,
  packetsRead: number,
  offset: number,
): CaptureFormatError {
  const msg =
    `${describePath(path)}: ${what} at byte ${offset} after ${packetsRead} packet` +
    `${packetsRead === 1 ? '' : 's'} (${code}); ${ADVICE[code]}`;
  return new CaptureFormatError(code, msg, packetsRead, offset);
}
