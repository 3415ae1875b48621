#!/usr/bin/env node
/**
 * The IMDS lab by hand (root):
 *
 *   node build/lab/lab-main.js up [--tokens optional|required] [--hop-limit] [--proxy] [--connection close]
 *       build a lab, print the namespace names, keep it until Ctrl-C, then tear it down.
 *       e.g. in another shell: ip netns exec <client-ns> curl http://169.254.169.254/latest/meta-data/
 *   node build/lab/lab-main.js run [same options] [--in client|container] -- CMD ARGS...
 *       build a lab, run CMD in the namespace, print its output, tear down; exits with CMD's code.
 *   node build/lab/lab-main.js cleanup
 *       delete lab namespaces whose owning process is gone.
 */
import { parseArgs } from 'node:util';
import { cleanupStale, createLab, type LabNs } from './netns.js';

async function main(): Promise<number> {
  const [command, ...rest] = process.argv.slice(2);
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      tokens: { type: 'string', default: 'optional' },
      'hop-limit': { type: 'boolean', default: false },
      proxy: { type: 'boolean', default: false },
      connection: { type: 'string', default: 'keep-alive' },
      in: { type: 'string', default: 'client' },
    },
  });
  if (command === 'cleanup') {
    const removed = await cleanupStale();
    process.stdout.write(removed.length ? `removed ${removed.join(' ')}\n` : 'nothing stale\n');
    return 0;
  }
  if (command !== 'up' && command !== 'run') {
    process.stderr.write('usage: lab-main up|run|cleanup [--tokens optional|required] [--hop-limit] [--proxy] [--in client|container] [-- CMD...]\n');
    return 2;
  }
  const lab = await createLab({
    tokens: values.tokens === 'required' ? 'required' : 'optional',
    hopLimitOnTokenPut: values['hop-limit'],
    proxy: values.proxy,
    connection: values.connection === 'close' ? 'close' : 'keep-alive',
  });
  const stop = (): void => void lab.teardown().then(() => process.exit(130));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  try {
    if (command === 'up') {
      process.stdout.write(`${JSON.stringify({ names: lab.names, addresses: lab.addresses, proxyUrl: lab.proxyUrl }, null, 2)}\n`);
      process.stdout.write('lab is up; Ctrl-C tears it down\n');
      await new Promise(() => undefined);
      return 0;
    }
    if (positionals.length === 0) throw new Error('run needs a command after --');
    const r = await lab.run(values.in as LabNs, positionals, { timeoutMs: 120_000 });
    process.stdout.write(r.stdout);
    process.stderr.write(r.stderr);
    for (const line of lab.serverLog()) process.stderr.write(`imds: ${line}\n`);
    return r.code ?? 1;
  } finally {
    await lab.teardown();
  }
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`lab-main: ${err.message}\n`);
    process.exit(2);
  },
);
