import { printable } from '../text/sanitize.js';
import { parseHeaderLine, parseRequestLine } from '../http/head-parser.js';
import { TOKEN_HEADER } from '../http/message.js';
import { isTokenlessRead } from '../imds/classify.js';

/**
 * What `imdswatch enforce` reads of a request (docs/design.md#enforce): the method, the path
 * without its query, and whether a non-empty `X-aws-ec2-metadata-token` header is there.
 * The token's value is never kept: only "present" leaves this module.
 */
export interface RequestHead {
  method: string;
  /** printable, no query, bounded */
  path: string;
  /** a non-empty X-aws-ec2-metadata-token header is present (its value is not kept) */
  hasToken: boolean;
  /** body bytes that follow the head (Content-Length); -1 = chunked or unreadable: stop parsing */
  bodyLength: number;
  /** bytes of the head including the blank line */
  headLength: number;
}

/** a head larger than this is not IMDS traffic: the connection is passed through unread */
export const MAX_HEAD_BYTES = 16 * 1024;

const CRLFCRLF = Buffer.from('\r\n\r\n');

/** printable, bounded path without its query (for events; the shared sanitizer, docs/design.md#sanitizer) */
export function cleanPath(raw: string): string {
  return printable(raw.split('?')[0] || '/', 200);
}

/**
 * Parse one request head at the start of `buf`. Returns null when the head is not complete
 * yet, 'too-large' past MAX_HEAD_BYTES, 'bad' when the start line is not a request line.
 */
export function parseRequestHead(buf: Buffer): RequestHead | null | 'too-large' | 'bad' {
  const end = buf.indexOf(CRLFCRLF);
  if (end < 0) return buf.length > MAX_HEAD_BYTES ? 'too-large' : null;
  if (end + 4 > MAX_HEAD_BYTES) return 'too-large';
  const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
  // the request line and header lines as the HTTP stage reads them (src/http/head-parser.ts)
  const start = parseRequestLine(lines[0] ?? '');
  if (!start || (start.httpVersion !== 'HTTP/1.1' && start.httpVersion !== 'HTTP/1.0')) return 'bad';
  let hasToken = false;
  let bodyLength = 0;
  for (const line of lines.slice(1)) {
    const field = parseHeaderLine(line);
    if (!field) return 'bad';
    const [name, value] = [field[0].toLowerCase(), field[1]];
    if (name === TOKEN_HEADER) {
      // IMDS and AWS's emulator treat an empty value as no token (docs/imds-facts.md#classification)
      if (value !== '') hasToken = true;
    } else if (name === 'content-length') {
      if (!/^\d{1,9}$/.test(value)) return 'bad';
      bodyLength = Number(value);
    } else if (name === 'transfer-encoding') {
      bodyLength = -1;
    }
  }
  return { method: start.method, path: cleanPath(start.target), hasToken, bodyLength, headLength: end + 4 };
}

/** what HttpTokens=required does to this request: an IMDSv1 call (the classifier's rule) gets 401 */
export function rejectedUnderRequired(head: Pick<RequestHead, 'method' | 'hasToken'>): boolean {
  return isTokenlessRead(head.method, head.hasToken);
}

/**
 * The answer IMDS gives a token-less GET or HEAD under HttpTokens=required: 401 with an empty
 * body, `Server: EC2ws`, `Content-Type: text/plain`, `Content-Length: 0`
 * (docs/imds-facts.md#status-codes; the lab simulator, test/support/lab/imds-server.ts, answers
 * the same). The connection is closed after it (`Connection: close`), so what the client sent
 * after the rejected request is not answered out of order.
 */
export function unauthorizedResponse(now = new Date()): Buffer {
  return Buffer.from(
    'HTTP/1.1 401 Unauthorized\r\n' +
      'Server: EC2ws\r\n' +
      'Content-Type: text/plain\r\n' +
      'Content-Length: 0\r\n' +
      `Date: ${now.toUTCString()}\r\n` +
      'Connection: close\r\n\r\n',
    'latin1',
  );
}
