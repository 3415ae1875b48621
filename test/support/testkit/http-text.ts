/** HTTP/1.x message text for scripted IMDS conversations (fake values only). */

export interface RequestOptions {
  method?: string;
  host?: string;
  userAgent?: string | null;
  /** extra header lines, in order, e.g. [['X-aws-ec2-metadata-token', 'AQAE...']] */
  headers?: Array<[string, string]>;
  body?: string;
  /** "HTTP/1.1" (default) or "HTTP/1.0" */
  version?: string;
}

export function httpRequest(path: string, o: RequestOptions = {}): string {
  const lines = [`${o.method ?? 'GET'} ${path} ${o.version ?? 'HTTP/1.1'}`, `Host: ${o.host ?? '169.254.169.254'}`];
  if (o.userAgent !== null && o.userAgent !== undefined) lines.push(`User-Agent: ${o.userAgent}`);
  lines.push('Accept: */*');
  for (const [k, v] of o.headers ?? []) lines.push(`${k}: ${v}`);
  if (o.body !== undefined) lines.push(`Content-Length: ${Buffer.byteLength(o.body, 'latin1')}`);
  return lines.join('\r\n') + '\r\n\r\n' + (o.body ?? '');
}

export function httpGet(path: string, o: Omit<RequestOptions, 'method'> = {}): string {
  return httpRequest(path, { ...o, method: 'GET' });
}

/** A token PUT with the TTL header. */
export function tokenPut(o: Omit<RequestOptions, 'method'> & { ttl?: number } = {}): string {
  return httpRequest('/latest/api/token', {
    ...o,
    method: 'PUT',
    headers: [['X-aws-ec2-metadata-token-ttl-seconds', String(o.ttl ?? 21600)], ...(o.headers ?? [])],
  });
}

const REASONS: Record<number, string> = {
  200: 'OK',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  503: 'Service Unavailable',
};

export interface ResponseOptions {
  headers?: Array<[string, string]>;
  /** send the body with Transfer-Encoding: chunked, in chunks of this size */
  chunked?: number;
  version?: string;
  /** Content-Length to announce instead of the body's length (e.g. the answer to HEAD) */
  contentLength?: number;
  /** omit Content-Length: the body ends when the server closes (HTTP/1.0 style) */
  noLength?: boolean;
  /** omit `Connection: close` */
  keepAlive?: boolean;
}

export function httpResponse(status: number, body = '', o: ResponseOptions = {}): string {
  const lines = [`${o.version ?? 'HTTP/1.1'} ${status} ${REASONS[status] ?? 'Status'}`];
  lines.push('Content-Type: text/plain', 'Server: EC2ws');
  if (!o.keepAlive) lines.push('Connection: close');
  for (const [k, v] of o.headers ?? []) lines.push(`${k}: ${v}`);
  if (o.chunked) {
    lines.push('Transfer-Encoding: chunked');
    let b = '';
    for (let i = 0; i < body.length; i += o.chunked) {
      const part = body.slice(i, i + o.chunked);
      b += `${Buffer.byteLength(part, 'latin1').toString(16)}\r\n${part}\r\n`;
    }
    b += '0\r\n\r\n';
    return lines.join('\r\n') + '\r\n\r\n' + b;
  }
  if (!o.noLength) lines.push(`Content-Length: ${o.contentLength ?? Buffer.byteLength(body, 'latin1')}`);
  return lines.join('\r\n') + '\r\n\r\n' + body;
}
