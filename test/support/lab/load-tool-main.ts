#!/usr/bin/env node
/**
 * imdswatch lab load tool (run it inside a lab namespace: `ip netns exec NS node ...`).
 *
 *   node build/lab/load-tool-main.js --mode syn-flood|short-conns|endless-header
 *        --target 169.254.169.254 [--port 80] [--count N] --seconds S
 *        [--concurrency C] [--hold-ms MS] [--source ADDR]... [--path P] [--user-agent UA]
 *        [--bytes-per-sec B]
 *
 * Bounded always: --seconds is required, and --count for the counted modes. Prints one
 * JSON line with the result counters on stdout; exits 0 when the run finished, 2 on bad
 * usage.
 */
import { parseArgs } from 'node:util';
import { LOAD_MODES, endlessHeader, shortConnections, synFlood, type LoadMode, type LoadResult } from './load-tool.js';

function usage(message: string): never {
  process.stderr.write(`load-tool: ${message}\n`);
  process.stderr.write(
    'usage: load-tool-main.js --mode syn-flood|short-conns|endless-header --target ADDR --seconds S [--count N] [--port 80] ' +
      '[--concurrency C] [--hold-ms MS] [--source ADDR]... [--path P] [--user-agent UA] [--bytes-per-sec B]\n',
  );
  process.exit(2);
}

function num(name: string, v: string | undefined, dflt?: number): number | undefined {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) usage(`--${name} takes a positive number, not "${v}"`);
  return n;
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        mode: { type: 'string' },
        target: { type: 'string' },
        port: { type: 'string' },
        count: { type: 'string' },
        seconds: { type: 'string' },
        concurrency: { type: 'string' },
        'hold-ms': { type: 'string' },
        source: { type: 'string', multiple: true },
        path: { type: 'string' },
        'user-agent': { type: 'string' },
        'bytes-per-sec': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (err) {
    usage((err as Error).message);
  }
  if (values.help) usage('help');
  const mode = values.mode as LoadMode | undefined;
  if (!mode || !LOAD_MODES.includes(mode)) usage(`--mode must be one of ${LOAD_MODES.join(', ')}`);
  if (!values.target) usage('--target is required (the IMDS address)');
  const seconds = num('seconds', values.seconds);
  if (seconds === undefined) usage('--seconds is required (every run is bounded in time)');
  const common = { target: values.target, port: num('port', values.port, 80), seconds };
  let result: LoadResult;
  if (mode === 'endless-header') {
    result = await endlessHeader({ ...common, bytesPerSec: num('bytes-per-sec', values['bytes-per-sec']) });
  } else {
    const count = num('count', values.count);
    if (count === undefined) usage(`--count is required with --mode ${mode}`);
    if (mode === 'syn-flood') {
      result = await synFlood({
        ...common,
        count,
        concurrency: num('concurrency', values.concurrency),
        holdMs: num('hold-ms', values['hold-ms']),
        sources: values.source,
      });
    } else {
      result = await shortConnections({
        ...common,
        count,
        concurrency: num('concurrency', values.concurrency),
        path: values.path,
        userAgent: values['user-agent'],
      });
    }
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`load-tool: ${(err as Error).message}\n`);
  process.exit(2);
});
