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
}

export interface HttpResponse {
  status: number;
  headers: Array<[name: string, value: string]>;
  bodyLength: number;
  sec: number;
  nsec: number;
}

/** Limits of the incremental parser; hitting one is counted, the stream is abandoned, never a throw. */
export interface HttpLimits {
  maxHeaderBytes: number; // request/status line + headers
  maxHeaders: number;
}

export const DEFAULT_HTTP_LIMITS: HttpLimits = { maxHeaderBytes: 64 * 1024, maxHeaders: 200 };

export type HttpErrorCode =
  | 'E_HTTP_HEADERS_TOO_LARGE'
  | 'E_HTTP_TOO_MANY_HEADERS'
  | 'E_HTTP_BAD_START_LINE'
  | 'E_HTTP_BAD_HEADER'
  | 'E_HTTP_BAD_CHUNK'
  | 'E_HTTP_BAD_CONTENT_LENGTH'
  | 'E_HTTP_GAP'; // bytes missing in the stream: the parser resynchronises at the next message start
