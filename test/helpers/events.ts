import type { ImdsEvent } from '../../src/imds/event.js';

/** A plausible event for sink tests; override what the test is about. */
export function ev(over: Partial<ImdsEvent> = {}): ImdsEvent {
  return {
    ts: '2026-11-28T10:00:00.000000Z',
    version: 'v1',
    method: 'GET',
    path: '/latest/meta-data/',
    status: 200,
    client: { ip: '10.0.0.2', port: 40000 },
    server: { ip: '169.254.169.254', port: 80 },
    userAgent: 'curl/7.88.1',
    sdk: null,
    process: null,
    attribution: 'none',
    reason: 'no-token-attempt',
    httpVersion: 'HTTP/1.1',
    ...over,
  };
}

