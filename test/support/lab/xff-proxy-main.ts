#!/usr/bin/env node
/** Run the lab X-Forwarded-For proxy: xff-proxy-main [--listen 127.0.0.1] [--port 3128] [--target 169.254.169.254] */
import { parseArgs } from 'node:util';
import { startXffProxy } from './xff-proxy.js';

const { values } = parseArgs({
  options: {
    listen: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '3128' },
    target: { type: 'string', default: '169.254.169.254' },
  },
});
startXffProxy({ host: values.listen, port: Number(values.port), target: values.target }).then(
  (proxy) => {
    process.stdout.write(`ready ${values.listen}:${proxy.port}\n`);
    const stop = (): void => void proxy.close().then(() => process.exit(0));
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  },
  (err: NodeJS.ErrnoException) => {
    process.stderr.write(`xff-proxy: cannot listen: ${err.code ?? 'error'}\n`);
    process.exit(2);
  },
);
