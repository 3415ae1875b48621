import { DEFAULT_HTTP_LIMITS, type HttpErrorCode, type HttpLimits } from './message.js';

const resolved = new WeakMap<Partial<HttpLimits>, HttpLimits>();

/** defaults filled in, one object per distinct `limits` object (parsers are made per flow) */
export function resolveHttpLimits(limits: Partial<HttpLimits> | undefined): HttpLimits {
  if (limits === undefined) return DEFAULT_HTTP_LIMITS;
  let r = resolved.get(limits);
  if (r === undefined) {
    r = { ...DEFAULT_HTTP_LIMITS, ...limits };
    resolved.set(limits, r);
  }
  return r;
}

/** parser states of MessageParser */
export const enum S {
  /** waiting for a start line (empty lines before it are skipped) */
  Start,
  Headers,
  BodyLength,
  ChunkSize,
  ChunkData,
  /** the CRLF after a chunk's data */
  ChunkEnd,
  Trailers,
  /** body until the end of the stream */
  BodyEof,
  /** after a gap or a bad start line: skipping lines until one looks like a start line */
  Resync,
  /** abandoned (limit hit, upgrade, or ended): bytes are counted and ignored */
  Dead,
}

/** How the body of a message whose head just ended is framed. */
export type BodyFraming =
  | { kind: 'none' }
  | { kind: 'length'; length: number }
  | { kind: 'chunked' }
  | { kind: 'eof' }
  /** interim response (1xx): discarded, the real response follows */
  | { kind: 'interim' }
  /** the stream stops being HTTP after this message (101 Switching Protocols) */
  | { kind: 'opaque' }
  | { kind: 'error'; code: HttpErrorCode };

/** the framings without a value, one object each (a message's head ends per request and per response) */
export const FRAMING_NONE: BodyFraming = { kind: 'none' };
export const FRAMING_CHUNKED: BodyFraming = { kind: 'chunked' };
export const FRAMING_EOF: BodyFraming = { kind: 'eof' };
export const FRAMING_INTERIM: BodyFraming = { kind: 'interim' };
export const FRAMING_OPAQUE: BodyFraming = { kind: 'opaque' };

