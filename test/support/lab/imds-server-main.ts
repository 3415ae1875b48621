#!/usr/bin/env node
/**
 * imdswatch-imds: run the lab IMDS simulator.
 *
 *   imdswatch-imds [--tokens optional|required] [--listen ADDR]... [--port 80]
 *                  [--connection keep-alive|close] [--forwarded-for] [--quiet]
 *
 * Prints one line "ready <addr>:<port> ..." on stdout once every listener is up (the
 * harness waits for it), then one "METHOD PATH STATUS" line per request on stderr
 * unless --quiet. Exits 0 on SIGTERM/SIGINT, 2 on bad usage or a listen error.
 */
import { parseArgs } from 'node:util';
import { startImdsServer, type TokenMode } from './imds-server.js';

function usage(message: string): never {
  process.stderr.write(`imdswatch-imds: ${message}\n`);
  process.stderr.write(
    'usage: imdswatch-imds [--tokens optional|required] [--listen ADDR]... [--port N] [--connection keep-alive|close] [--forwarded-for] [--token-put-404] [--quiet]\n',
  );
  process.exit(2);
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        tokens: { type: 'string', default: 'optional' },
        listen: { type: 'string', multiple: true },
        port: { type: 'string', default: '80' },
        connection: { type: 'string', default: 'keep-alive' },
        quiet: { type: 'boolean', default: false },
        'forwarded-for': { type: 'boolean', default: false },
        'token-put-404': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (err) {
    usage((err as Error).message);
  }
  if (values.help) usage('help');
  const tokens = values.tokens as string;
  if (tokens !== 'optional' && tokens !== 'required') usage('--tokens must be optional or required');
  const connection = values.connection as string;
  if (connection !== 'keep-alive' && connection !== 'close') usage('--connection must be keep-alive or close');
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) usage('--port must be 0..65535');

  let server;
  try {
    server = await startImdsServer({
      hosts: values.listen,
      port,
      tokens: tokens as TokenMode,
      connection,
      forwardedFor: values['forwarded-for'],
      tokenPut404: values['token-put-404'],
      log: values.quiet ? undefined : (line) => process.stderr.write(`${line}\n`),
    });
  } catch (err) {
    process.stderr.write(`imdswatch-imds: cannot listen: ${(err as NodeJS.ErrnoException).code ?? 'error'}\n`);
    process.exit(2);
  }
  const where = server.addresses
    .map((a) => (a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`))
    .join(' ');
  process.stdout.write(`ready ${where} tokens=${tokens} connection=${connection}\n`);
  const stop = (): void => {
    void server.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

void main();
