/**
 * Pure helpers for HTTP/1.x message heads: start lines, header lines, framing
 * headers. Lines arrive without their LF (and without a trailing CR), decoded as latin1,
 * so any byte (NUL, invalid UTF-8) is a character and nothing here can throw.
 */

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** what a request line looks like when resynchronising after a gap */
const RESYNC_REQUEST = /^[A-Z]+ \/[^ ]* HTTP\/1\.[01]$/;
const RESYNC_STATUS = /^HTTP\/1\.[01] [0-9]{3}(?: .*)?$/;
const DIGITS = /^[0-9]+$/;

export interface RequestLine {
  method: string;
  target: string;
  /** "" when the line had no version (HTTP/0.9 style) */
  httpVersion: string;
}

/** tchar (RFC 9110): the characters of a method or header name */
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+.^_`|~-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") TCHAR[c.charCodeAt(0)] = 1;

function isWs(c: number): boolean {
  return c === 32 || c === 9;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** "HTTP/d.d" at line[i] */
function httpVersionAt(line: string, i: number): boolean {
  return line.startsWith('HTTP/', i) && isDigit(line.charCodeAt(i + 5)) && line.charCodeAt(i + 6) === 46 && isDigit(line.charCodeAt(i + 7));
}

/**
 * `METHOD SP target [SP HTTP/d.d] [SP]`, each SP one or more spaces or tabs, read by hand
 * (no match array): the same answers as
 * /^(tchar+)[ \t]+([^ \t]+)(?:[ \t]+(HTTP\/[0-9]\.[0-9]))?[ \t]*$/ (test/http/head-parser-lines.test.ts).
 */
export function parseRequestLine(line: string): RequestLine | null {
  const n = line.length;
  let i = 0;
  for (let c = line.charCodeAt(0); i < n && c < 128 && TCHAR[c] === 1; c = line.charCodeAt(++i));
  if (i === 0 || i === n || !isWs(line.charCodeAt(i))) return null;
  const methodEnd = i;
  while (i < n && isWs(line.charCodeAt(i))) i++;
  const targetStart = i;
  while (i < n && !isWs(line.charCodeAt(i))) i++;
  if (i === targetStart) return null;
  const targetEnd = i;
  while (i < n && isWs(line.charCodeAt(i))) i++;
  let httpVersion = '';
  if (i < n) {
    if (!httpVersionAt(line, i)) return null;
    httpVersion = line.slice(i, i + 8);
    for (i += 8; i < n; i++) if (!isWs(line.charCodeAt(i))) return null;
  }
  return { method: line.slice(0, methodEnd), target: line.slice(targetStart, targetEnd), httpVersion };
}

export interface StatusLine {
  httpVersion: string;
  status: number;
}

/**
 * `HTTP/d.d SP ddd [SP reason]`, read by hand: the same answers as
 * /^HTTP\/([0-9])\.([0-9])[ \t]+([0-9]{3})(?:[ \t].*)?$/ (whose `.` is no CR, LF, U+2028 or U+2029).
 */
export function parseStatusLine(line: string): StatusLine | null {
  const n = line.length;
  if (n < 12 || !httpVersionAt(line, 0) || !isWs(line.charCodeAt(8))) return null;
  let i = 9;
  while (i < n && isWs(line.charCodeAt(i))) i++;
  if (i + 3 > n || !isDigit(line.charCodeAt(i)) || !isDigit(line.charCodeAt(i + 1)) || !isDigit(line.charCodeAt(i + 2))) return null;
  const status = (line.charCodeAt(i) - 48) * 100 + (line.charCodeAt(i + 1) - 48) * 10 + (line.charCodeAt(i + 2) - 48);
  i += 3;
  if (i < n) {
    if (!isWs(line.charCodeAt(i))) return null;
    for (; i < n; i++) {
      const c = line.charCodeAt(i);
      if (c === 10 || c === 13 || c === 0x2028 || c === 0x2029) return null;
    }
  }
  return { httpVersion: line.slice(0, 8), status };
}

export function looksLikeRequestLine(line: string): boolean {
  return RESYNC_REQUEST.test(line);
}

export function looksLikeStatusLine(line: string): boolean {
  return RESYNC_STATUS.test(line);
}

/** Trim SP and HTAB on both ends (not other whitespace: header values are raw text). */
export function trimOws(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && (s.charCodeAt(a) === 32 || s.charCodeAt(a) === 9)) a++;
  while (b > a && (s.charCodeAt(b - 1) === 32 || s.charCodeAt(b - 1) === 9)) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

/** `name: value` → [name, trimmed value], or null when the line is not a valid field line */
export function parseHeaderLine(line: string): [string, string] | null {
  const colon = line.indexOf(':');
  if (colon <= 0) return null;
  const name = line.slice(0, colon);
  if (!TOKEN.test(name)) return null;
  return [name, trimOws(line.slice(colon + 1))];
}

/** the framing headers, lower-case: always read as text (Framing sees them) */
export const FRAMING_HEADERS: readonly string[] = ['content-length', 'transfer-encoding'];

/** the name's length of the line `unkeptHeaderAt` last answered for (a second answer without an object) */
export let unkeptNameLength = 0;

/**
 * `buf[from, end)` is a header line (no CR or LF) that `parseHeaderLine` reads as valid and
 * whose name (in any case) is none of `keep` (lower-case ASCII names): the length of its
 * trimmed value (and its name's in `unkeptNameLength`); otherwise (not a field line, an
 * obs-fold, an empty line, a kept name) -1. Reads the bytes in place: no text is made.
 */
export function unkeptHeaderAt(buf: Buffer, from: number, end: number, keep: readonly string[]): number {
  let i = from;
  for (; i < end; i++) {
    const c = buf[i];
    if (c >= 128 || TCHAR[c] !== 1) break;
  }
  // the name ends at the first colon and is tchar throughout (TOKEN), and is not empty
  if (i === from || i === end || buf[i] !== 58) return -1;
  const nameLength = i - from;
  for (let k = 0; k < keep.length; k++) {
    const w = keep[k];
    if (w.length !== nameLength) continue;
    let j = 0;
    for (; j < nameLength; j++) {
      const c = buf[from + j];
      if ((c >= 65 && c <= 90 ? c + 32 : c) !== w.charCodeAt(j)) break;
    }
    if (j === nameLength) return -1;
  }
  unkeptNameLength = nameLength;
  let a = i + 1;
  let b = end;
  while (a < b && (buf[a] === 32 || buf[a] === 9)) a++;
  while (b > a && (buf[b - 1] === 32 || buf[b - 1] === 9)) b--;
  return b - a;
}

/** the line continues the previous field value (obs-fold) */
export function isObsFold(line: string): boolean {
  const c = line.charCodeAt(0);
  return c === 32 || c === 9;
}

/**
 * Framing headers of one message, collected while headers are parsed.
 * contentLength: -1 absent, -2 invalid or conflicting.
 */
export class Framing {
  contentLength = -1;
  hasTransferEncoding = false;
  chunked = false;

  reset(): void {
    this.contentLength = -1;
    this.hasTransferEncoding = false;
    this.chunked = false;
  }

  see(name: string, value: string): void {
    if (name.length === 14 && name.toLowerCase() === 'content-length') this.seeContentLength(value);
    else if (name.length === 17 && name.toLowerCase() === 'transfer-encoding') {
      this.hasTransferEncoding = true;
      const codings = value.split(',');
      const last = trimOws(codings[codings.length - 1]).toLowerCase();
      // the final coding decides; an empty element (trailing comma) does not reset it
      if (last !== '') this.chunked = last === 'chunked';
    }
  }

  private seeContentLength(value: string): void {
    if (this.contentLength === -2) return;
    // one plain number (nearly every message): what the loop below answers, without split and trim
    const n0 = plainNumber(value);
    if (n0 >= 0) {
      this.contentLength = this.contentLength !== -1 && this.contentLength !== n0 ? -2 : n0;
      return;
    }
    for (const part of value.split(',')) {
      const v = trimOws(part);
      if (!DIGITS.test(v) || v.length > 15) {
        this.contentLength = -2;
        return;
      }
      const n = Number(v);
      if (this.contentLength !== -1 && this.contentLength !== n) {
        this.contentLength = -2;
        return;
      }
      this.contentLength = n;
    }
  }
}

/** the value of 1 to 15 ASCII digits and nothing else, or -1 */
function plainNumber(v: string): number {
  const n = v.length;
  if (n === 0 || n > 15) return -1;
  let x = 0;
  for (let i = 0; i < n; i++) {
    const c = v.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    x = x * 10 + c;
  }
  return x;
}

/** chunk-size line → size, or -1 when invalid. Chunk extensions after ';' are ignored. */
export function parseChunkSize(line: string): number {
  const semi = line.indexOf(';');
  const hex = trimOws(semi < 0 ? line : line.slice(0, semi));
  if (hex.length === 0 || hex.length > 12 || !/^[0-9a-fA-F]+$/.test(hex)) return -1;
  return parseInt(hex, 16);
}
