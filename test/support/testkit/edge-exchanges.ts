/** Request/response/expected-event triples for edge-case scripts (fake values only). */
import { httpGet, httpRequest, httpResponse, tokenPut, type ResponseOptions } from './http-text.js';
import type { Exchange } from './edge-scenario.js';
import { CREDENTIALS_BODY, ROLE_NAME, TOKEN } from './fake-values.js';

export const IMDS4 = '169.254.169.254';
export const IMDS6 = 'fd00:ec2::254';

/** a plausible body for a metadata path (never a secret unless the path is credentials) */
export function bodyFor(path: string): string {
  if (path.endsWith('/security-credentials/')) return ROLE_NAME;
  if (path.includes('/security-credentials/')) return CREDENTIALS_BODY;
  if (path.endsWith('instance-id')) return 'i-0fake0000imdswatch';
  if (path.endsWith('ami-id')) return 'ami-0fake0000imdswatch';
  if (path.endsWith('/')) return 'ami-id\nhostname\ninstance-id\ninstance-type\niam/\nlocal-ipv4\nplacement/\n';
  return 'fake-value';
}

export interface GetOptions {
  status?: number | null;
  host?: string;
  res?: ResponseOptions;
  version?: string;
  reason?: string | null;
}

/** token-less GET (IMDSv1) */
export function v1(path: string, ua: string | null, o: GetOptions = {}): Exchange {
  const status = o.status === undefined ? 200 : o.status;
  return {
    req: httpGet(path, { userAgent: ua, host: o.host, version: o.version }),
    res: status === null ? null : httpResponse(status, status === 200 ? bodyFor(path) : '', o.res),
    ev: { version: 'v1', method: 'GET', path, status, userAgent: ua, ...(o.reason !== undefined ? { reason: o.reason } : {}) },
  };
}

/** GET with a session token (IMDSv2) */
export function v2(path: string, ua: string | null, o: GetOptions & { token?: string; headerName?: string } = {}): Exchange {
  const status = o.status === undefined ? 200 : o.status;
  const res =
    status === null
      ? null
      : httpResponse(status, status === 200 ? bodyFor(path) : '', {
          ...o.res,
          headers: [['X-Aws-Ec2-Metadata-Token-Ttl-Seconds', '21547'], ...(o.res?.headers ?? [])],
        });
  return {
    req: httpGet(path, { userAgent: ua, host: o.host, version: o.version, headers: [[o.headerName ?? 'X-aws-ec2-metadata-token', o.token ?? TOKEN]] }),
    res,
    ev: { version: 'v2', method: 'GET', path, status, userAgent: ua },
  };
}

/** token PUT */
export function put(ua: string | null, o: { status?: number | null; ttlHeaderName?: string; extraHeaders?: Array<[string, string]>; res?: ResponseOptions } = {}): Exchange {
  const status = o.status === undefined ? 200 : o.status;
  const req =
    o.ttlHeaderName === undefined
      ? tokenPut({ userAgent: ua, headers: o.extraHeaders })
      : httpRequest('/latest/api/token', { method: 'PUT', userAgent: ua, headers: [[o.ttlHeaderName, '21600'], ...(o.extraHeaders ?? [])] });
  const res =
    status === null
      ? null
      : status === 200
        ? httpResponse(200, TOKEN, { ...o.res, headers: [['X-Aws-Ec2-Metadata-Token-Ttl-Seconds', '21600']] })
        : httpResponse(status, '', o.res);
  return { req, res, ev: { version: 'token', method: 'PUT', path: '/latest/api/token', status, userAgent: ua } };
}
