#!/usr/bin/env node
/**
 * Opens N idle TCP connections on 127.0.0.1 and keeps them until SIGTERM: a child
 * process (this file with --serve) accepts, this process connects, so each holds N
 * descriptors (stays under a 20 000 `ulimit -n`). /proc/net/tcp then lists 2N sockets
 * (N client ends, N accepted ends) plus the listener. Prints "ready N".
 *
 *   node idle-sockets.mjs --count 10000
 */
import { fork } from 'node:child_process';
import * as net from 'node:net';
import { fileURLToPath } from 'node:url';
import { arg } from './measure.mjs';

if (process.argv.includes('--serve')) {
  const kept = [];
  const server = net.createServer((s) => kept.push(s));
  server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
  process.on('disconnect', () => process.exit(0));
} else {
  const count = Number(arg('--count', '10000'));
  const child = fork(fileURLToPath(import.meta.url), ['--serve'], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const stop = () => {
    child.kill('SIGTERM');
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  child.once('message', async ({ port }) => {
    const kept = [];
    let open = 0;
    const batch = 200;
    for (let i = 0; i < count; i += batch) {
      await Promise.all(
        Array.from({ length: Math.min(batch, count - i) }, () =>
          new Promise((resolve, reject) => {
            const c = net.connect(port, '127.0.0.1', () => {
              open++;
              resolve();
            });
            c.on('error', reject);
            kept.push(c);
          }),
        ),
      );
    }
    process.stdout.write(`ready ${open}\n`);
  });
}
