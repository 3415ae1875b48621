import { TOKEN_HEADER, TOKEN_TTL_HEADER, type HttpRequest } from '../http/message.js';
import type { ImdsVersion } from './event.js';

/** Header names of the IMDSv2 protocol, lower-case (defined beside the parser that keeps them past a head limit). */
export { TOKEN_HEADER, TOKEN_TTL_HEADER };
export const TOKEN_PATH = '/latest/api/token';

export interface Classification {
  /** null: not an IMDS call by the rules of docs/imds-facts.md#classification (e.g. POST to a metadata path); counted, not reported */
  version: ImdsVersion | null;
  /** path without query or fragment, origin-form */
  path: string;
  userAgent: string | null;
  /** TTL asked for on a token request; null when absent or not a number */
  tokenTtl: number | null;
  /** the token header was present with an empty value (the call is v1) */
  emptyTokenHeader: boolean;
}

/**
 * Classify one request as docs/imds-facts.md#classification says: a token request is `PUT /latest/api/token`;
 * a request with a non-empty `X-aws-ec2-metadata-token` header (name in any case) is
 * IMDSv2; any other GET or HEAD is IMDSv1. A token in the URL or the body, or an empty
 * header value, does not make a call IMDSv2.
 */
export function classifyRequest(req: HttpRequest): Classification {
  const path = originPath(req.target);
  let userAgent: string | null = null;
  let tokenPresent = false;
  let emptyTokenHeader = false;
  let tokenTtl: number | null = null;
  for (const [name, value] of req.headers) {
    const lower = name.toLowerCase();
    if (lower === TOKEN_HEADER) {
      if (value.trim() !== '') tokenPresent = true;
      else emptyTokenHeader = true;
    } else if (lower === 'user-agent') {
      if (userAgent === null) userAgent = value;
    } else if (lower === TOKEN_TTL_HEADER) {
      const n = /^\s*\d{1,9}\s*$/.test(value) ? Number(value) : NaN;
      tokenTtl = Number.isFinite(n) ? n : null;
    }
  }
  const method = req.method.toUpperCase();
  let version: ImdsVersion | null;
  if (method === 'PUT' && path === TOKEN_PATH) version = 'token';
  else if (tokenPresent) version = 'v2';
  else if (isTokenlessRead(method, false)) version = 'v1';
  else version = null;
  return { version, path, userAgent, tokenTtl, emptyTokenHeader: emptyTokenHeader && !tokenPresent };
}

/**
 * An IMDSv1 call: a GET or HEAD without a non-empty token header. The one rule behind the v1
 * classification and what `HttpTokens=required` rejects with 401 (`imdswatch enforce`).
 */
export function isTokenlessRead(method: string, tokenPresent: boolean): boolean {
  const m = method.toUpperCase();
  return !tokenPresent && (m === 'GET' || m === 'HEAD');
}

/**
 * `/a/b?x=1#f` → `/a/b`; absolute-form `http://169.254.169.254/a` → `/a`. Never keeps a query (it may hold a token).
 * Control bytes (which HTTP forbids in a target, and a server may still read) are percent-encoded:
 * `/a\x01b` → `/a%01b` (docs/design.md#unfinished-requests).
 */
export function originPath(target: string): string {
  let t = target;
  // origin-form (nearly every request) cannot start a scheme, which begins with a letter
  if (t.charCodeAt(0) !== 47) {
    const scheme = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#]*/.exec(t);
    if (scheme) t = t.slice(scheme[0].length) || '/';
  }
  const cut = queryOrFragment(t);
  if (cut >= 0) t = t.slice(0, cut);
  if (CONTROL.test(t)) t = t.replace(CONTROLS, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
  return t === '' ? '/' : t;
}

/** where `?` or `#` first is in t, or -1 (t.search(/[?#]/) without the expression) */
function queryOrFragment(t: string): number {
  for (let i = 0; i < t.length; i++) {
    const c = t.charCodeAt(i);
    if (c === 63 || c === 35) return i;
  }
  return -1;
}

const CONTROL = /[\x00-\x1f\x7f]/;
const CONTROLS = /[\x00-\x1f\x7f]/g;
