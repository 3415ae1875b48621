import { HttpRequestParser } from '../../src/http/request-parser.js';
import { HttpResponseParser } from '../../src/http/response-parser.js';
import type { HttpErrorCode, HttpLimits, HttpRequest, HttpResponse } from '../../src/http/message.js';

export type Step = Buffer | { gap: number };

export function requests(steps: Step[], limits?: Partial<HttpLimits>, opts: { times?: number[] } = {}) {
  const out: HttpRequest[] = [];
  const errors: HttpErrorCode[] = [];
  const p = new HttpRequestParser({ onRequest: (r) => out.push(r), onError: (c) => errors.push(c) }, limits);
  let maxBuffered = 0;
  steps.forEach((s, i) => {
    if (Buffer.isBuffer(s)) p.push(s, opts.times?.[i] ?? i, 0);
    else p.gap(s.gap);
    maxBuffered = Math.max(maxBuffered, p.bufferedBytes);
  });
  p.end();
  return { out, errors, parser: p, maxBuffered };
}

export function responses(steps: Step[], methods: string[] = [], limits?: Partial<HttpLimits>) {
  const out: HttpResponse[] = [];
  const errors: HttpErrorCode[] = [];
  const p = new HttpResponseParser({ onResponse: (r) => out.push(r), onError: (c) => errors.push(c) }, limits);
  for (const m of methods) p.expectResponseTo(m);
  steps.forEach((s, i) => {
    if (Buffer.isBuffer(s)) p.push(s, i, 0);
    else p.gap(s.gap);
  });
  p.end();
  return { out, errors, parser: p };
}

/** one byte per push, at time = byte offset: each message's sec is the offset of its first byte */
export function bytewise(text: string): Buffer[] {
  const b = Buffer.from(text, 'latin1');
  return Array.from({ length: b.length }, (_, i) => b.subarray(i, i + 1));
}

/** strip times for comparing parses of differently split input */
export function shape<T extends { sec: number; nsec: number }>(msgs: T[]): Array<Omit<T, 'sec' | 'nsec'>> {
  return msgs.map(({ sec: _s, nsec: _n, ...rest }) => rest);
}
