/** The http stage's contract. Header names keep their case as sent; values are raw text (latin1). */
export interface HttpRequest {
  method: string;
  /** request target as sent (may contain a query) */
  target: string;
  /** "HTTP/1.1", "HTTP/1.0", or "" when the request line had no version */
  httpVersion: string;
  headers: Array<[name: string, value: string]>;
  /** body bytes seen (the body itself is never kept) */
  bodyLength: number;
  /** time of the request's first byte */
  sec: number;
  nsec: number;
  /**
   * set when the message was not seen whole: 'head' = bytes were lost inside the request
   * line/headers (headers may be missing: do not conclude a header was absent), 'body' =
   * the body was cut short (gap or end of stream). Absent when the message was complete.
   */
  truncated?: 'head' | 'body';
  /**
   * the head went past a limit (docs/design.md#unfinished-requests): the header lines after it
   * were read one by one for the body's framing and the IMDS headers (token, token TTL,
   * User-Agent), the others were not kept
   */
  headOverLimit?: HeadLimitCode;
  /**
   * the request line could not be read (not one, or longer than the head limit): method,
   * target and headers are empty. Still handed on, so that it pairs with its response and
   * counts as IMDS traffic that could not be read (docs/design.md#unfinished-requests).
   */
  unreadable?: 'E_HTTP_BAD_START_LINE' | 'E_HTTP_HEADERS_TOO_LARGE';
  /** set by a selective parse (HeaderSelection): the byte-budget cost of the header lines read and not kept in `headers` */
  unkeptHeaderCost?: number;
}

/**
 * Which headers a parser keeps in a message's `headers` (the framing headers are read
 * either way): every one (the default), or only these lower-case names; the others are read
 * in place in the packet and checked, counted and charged as when kept, never made text.
 */
export type HeaderSelection = readonly string[] | undefined;


/** the limits a head can go past and still be read (docs/design.md#unfinished-requests) */
export type HeadLimitCode = 'E_HTTP_HEADERS_TOO_LARGE' | 'E_HTTP_TOO_MANY_HEADERS';

/** Header names of the IMDSv2 protocol, lower-case (docs/imds-facts.md#classification). */
export const TOKEN_HEADER = 'x-aws-ec2-metadata-token';
export const TOKEN_TTL_HEADER = 'x-aws-ec2-metadata-token-ttl-seconds';

/** what the IMDS stage reads of a request's headers: the token, token TTL and User-Agent (src/imds/classify.ts, clientKey in src/pipeline/create-pipeline.ts) */
export const IMDS_REQUEST_HEADERS: readonly string[] = [TOKEN_HEADER, TOKEN_TTL_HEADER, 'user-agent'];

export interface HttpResponse {
  status: number;
  headers: Array<[name: string, value: string]>;
  bodyLength: number;
  /** time of the status line's first byte */
  sec: number;
  nsec: number;
  /** as in HttpRequest */
  truncated?: 'head' | 'body';
  /** as in HttpRequest: headers past the limit were read for framing only */
  headOverLimit?: HeadLimitCode;
  /** as in HttpRequest */
  unkeptHeaderCost?: number;
}

/** Limits of the incremental parser; hitting one is counted, the stream is abandoned, never a throw. */
export interface HttpLimits {
  maxHeaderBytes: number; // request/status line + headers
  maxHeaders: number;
  /** most requests of one flow waiting for their response; beyond it pairing is given up (E_HTTP_TOO_MANY_PENDING) */
  maxPendingRequests: number;
}

// 8 KiB of head per message: IMDS requests of every SDK measured here are < 1 KiB, and
// 16 384 flows × 8 KiB bounds the worst case (every flow a slow endless header) at 128 MiB
export const DEFAULT_HTTP_LIMITS: HttpLimits = { maxHeaderBytes: 8 * 1024, maxHeaders: 200, maxPendingRequests: 256 };

/** E_HTTP_* counter codes, from the one catalogue (docs/errors.md) */
export type { HttpErrorCode } from '../errors/catalogue.js';
import type { HttpErrorCode } from '../errors/catalogue.js';

/** Counters of the http stage; one object may be shared by every HttpExchange. */
export interface HttpStats {
  requests: number;
  responses: number;
  /** by code (docs/errors.md#counters) */
  errors: Partial<Record<HttpErrorCode, number>>;
  /** responses that arrived with no request to pair them with (e.g. a flow seen mid-stream) */
  unpairedResponses: number;
  /** stream bytes not parsed: after a parser abandoned its stream, or skipped while resynchronising */
  ignoredBytes: number;
}

export function emptyHttpStats(): HttpStats {
  return { requests: 0, responses: 0, errors: {}, unpairedResponses: 0, ignoredBytes: 0 };
}
