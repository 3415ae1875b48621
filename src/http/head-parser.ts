/**
 * Pure helpers for HTTP/1.x message heads: start lines, header lines, framing
 * headers. Lines arrive without their LF (and without a trailing CR), decoded as latin1,
 * so any byte (NUL, invalid UTF-8) is a character and nothing here can throw.
 */

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const REQUEST_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+)[ \t]+([^ \t]+)(?:[ \t]+(HTTP\/[0-9]\.[0-9]))?[ \t]*$/;
const STATUS_LINE = /^HTTP\/([0-9])\.([0-9])[ \t]+([0-9]{3})(?:[ \t].*)?$/;
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

export function parseRequestLine(line: string): RequestLine | null {
  const m = REQUEST_LINE.exec(line);
  if (m === null) return null;
  return { method: m[1], target: m[2], httpVersion: m[3] ?? '' };
}

export interface StatusLine {
  httpVersion: string;
  status: number;
}

export function parseStatusLine(line: string): StatusLine | null {
  const m = STATUS_LINE.exec(line);
  if (m === null) return null;
  return { httpVersion: `HTTP/${m[1]}.${m[2]}`, status: Number(m[3]) };
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

/** chunk-size line → size, or -1 when invalid. Chunk extensions after ';' are ignored. */
export function parseChunkSize(line: string): number {
  const semi = line.indexOf(';');
  const hex = trimOws(semi < 0 ? line : line.slice(0, semi));
  if (hex.length === 0 || hex.length > 12 || !/^[0-9a-fA-F]+$/.test(hex)) return -1;
  return parseInt(hex, 16);
}
