import { afterAll, describe, expect, it } from 'vitest';
import { createLab, labAvailable, type Lab } from '../support/lab/netns.js';
import { CliRun, GATE_BUDGET_ARGS, cliBuilt, tally } from './cli.js';

/**
 * Issue #4's attribution figure through the real CLI: 200 one-shot IMDSv1 curls while
 * `imdswatch scan --format ndjson` runs (with its own, fixed gate budget) in the same
 * namespace; every event must carry the pid of the curl that made it.
 */
const N = 200;
const URL = 'http://169.254.169.254/latest/meta-data/';
const CURL_LOOP = `for i in $(seq ${N}); do sh -c 'echo $$; exec curl -s -o /dev/null -m 5 ${URL}'; done`;

describe.skipIf(!labAvailable() || !cliBuilt())('imdswatch scan: 200 one-shot curls (netns)', () => {
  let lab: Lab | undefined;
  let run: CliRun | undefined;
  afterAll(async () => {
    run?.kill();
    await lab?.teardown();
  });

  it(`attributes ${N} of ${N} one-shot curls to /usr/bin/curl with the right pid`, async () => {
    lab = await createLab({ prefix: 'iwint200', connection: 'close' });
    run = new CliRun(lab, ['scan', ...GATE_BUDGET_ARGS, '--duration', '300s', '--format', 'ndjson']);
    await run.gateReady();
    const t0 = Date.now();
    const r = await lab.run('client', ['sh', '-c', CURL_LOOP], { timeoutMs: 120_000 });
    const curlMs = Date.now() - t0;
    const pids = r.stdout.split('\n').filter(Boolean).map(Number);
    expect(pids).toHaveLength(N);
    await run.waitForEvents(N, 30_000);
    run.interrupt();
    const res = await run.result;
    const byPid = new Map(res.events.map((e) => [e.process?.pid, e]));
    const attributed = pids.filter((pid) => {
      const e = byPid.get(pid);
      return e?.attribution === 'gate' && e.process?.exe === '/usr/bin/curl';
    });
    console.log(`scan, ${N} curls: ${attributed.length}/${N} attributed by pid; ${tally(res.events)}; curls took ${curlMs} ms`);
    expect({ code: res.code, signal: res.signal }, res.stderr).toEqual({ code: 0, signal: null });
    expect(res.events).toHaveLength(N);
    expect(res.events.every((e) => e.version === 'v1' && e.status === 200)).toBe(true);
    expect(attributed).toHaveLength(N);
  }, 240_000);
});
