import { afterAll, describe, expect, it } from 'vitest';
import { createLab, labAvailable, type Lab } from '../support/lab/netns.js';
import { CliRun, GATE_BUDGET_ARGS, cliBuilt, tally } from './cli.js';

/**
 * A burst of one-shot IMDS callers run many at a time by one unprivileged user, while
 * `imdswatch scan` runs in the same namespace (docs/design.md#attribution): every call must
 * be held by the SYN gate and named (attribution `gate`, the caller's own pid and exe). Each
 * caller prints its pid, then execs curl, so the pid is the curl's.
 */
const N = Number(process.env.IMDSWATCH_BURST_N ?? 400);
const PARALLEL = Number(process.env.IMDSWATCH_BURST_PARALLEL ?? 16);
const URL = 'http://169.254.169.254/latest/meta-data/';
const BURST = `seq ${N} | xargs -P ${PARALLEL} -n 1 sh -c 'echo $$; exec curl -s -o /dev/null -m 10 ${URL}' caller`;

describe.skipIf(!labAvailable() || !cliBuilt())(`imdswatch scan: ${N} one-shot callers, ${PARALLEL} at a time, one user (netns)`, () => {
  let lab: Lab | undefined;
  let run: CliRun | undefined;
  afterAll(async () => {
    run?.kill();
    await lab?.teardown();
  });

  it(`holds and names every call`, async () => {
    lab = await createLab({ prefix: 'iwburst', connection: 'close' });
    run = new CliRun(lab, ['scan', ...GATE_BUDGET_ARGS, '--duration', '600s', '--format', 'ndjson']);
    await run.gateReady();
    const t0 = Date.now();
    const r = await lab.run('client', ['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups', 'sh', '-c', BURST], { timeoutMs: 300_000 });
    const burstMs = Date.now() - t0;
    const pids = r.stdout.split('\n').filter(Boolean).map(Number);
    expect(pids, r.stderr).toHaveLength(N);
    await run.waitForEvents(N, 60_000);
    run.interrupt();
    const res = await run.result;
    const byPid = new Map(res.events.map((e) => [e.process?.pid, e]));
    const named = pids.filter((pid) => {
      const e = byPid.get(pid);
      return e?.attribution === 'gate' && e.process?.exe === '/usr/bin/curl' && e.process.user === 'nobody';
    });
    console.log(`burst ${N} x${PARALLEL}: ${named.length}/${N} held and named; ${tally(res.events)}; burst took ${burstMs} ms`);
    expect({ code: res.code, signal: res.signal }, res.stderr).toEqual({ code: 0, signal: null });
    expect(res.events).toHaveLength(N);
    expect(named).toHaveLength(N);
  }, 600_000);
});
