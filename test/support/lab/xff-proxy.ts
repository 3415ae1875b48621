import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A tiny forward HTTP proxy for the lab that adds `X-Forwarded-For: <client ip>` to
 * every request, as kiam and many corporate proxies do. IMDS refuses token PUTs that
 * carry that header (403). Absolute-form request targets (`curl -x`) and origin-form
 * ones (sent straight to the proxy) are both forwarded to `target`.
 * It logs nothing.
 */
export interface XffProxy {
  port: number;
  close(): Promise<void>;
}

export async function startXffProxy(opts: { host?: string; port?: number; target?: string; targetPort?: number } = {}): Promise<XffProxy> {
  const target = opts.target ?? '169.254.169.254';
  const targetPort = opts.targetPort ?? 80;
  const server: Server = createServer((req, res) => {
    let path = req.url ?? '/';
    if (/^https?:\/\//i.test(path)) {
      const u = new URL(path);
      path = `${u.pathname}${u.search}`;
    }
    const headers = { ...req.headers };
    delete headers['proxy-connection'];
    const peer = req.socket.remoteAddress ?? '127.0.0.1';
    headers['x-forwarded-for'] = peer.replace(/^::ffff:/, '');
    const upstream = request({ host: target, port: targetPort, method: req.method, path, headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502, { 'Content-Length': '0' });
      res.end();
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: opts.host ?? '127.0.0.1', port: opts.port ?? 3128 }, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
