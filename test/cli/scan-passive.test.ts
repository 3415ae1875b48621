import { afterAll, describe, expect, it } from 'vitest';
import { createLab, labAvailable, type Lab } from '../support/lab/netns.js';
import { CliRun, cliBuilt, tally } from '../integration/cli.js';

/**
 * `scan --no-gate` (a second capture beside a running daemon, no SYN gate): passive
 * attribution of one-shot callers. N one-shot curls, each in a login session of user nobody
 * (the shell sets its audit loginuid as pam_loginuid does at an ssh login) and run as nobody,
 * through a shell that prints its pid first. Every attributed event names the curl's pid, exe,
 * user and login session; how many are attributed is printed (a passive lookup races the
 * caller's exit: docs/design.md#attribution).
 */
const N = 40;
const URL = 'http://169.254.169.254/latest/meta-data/';
const CURL_LOOP = `for i in $(seq ${N}); do sh -c 'echo 65534 > /proc/self/loginuid && echo $$ && exec setpriv --reuid 65534 --regid 65534 --clear-groups curl -s -o /dev/null -m 5 ${URL}'; done`;

describe.skipIf(!labAvailable() || !cliBuilt())('scan --no-gate: passive attribution of one-shot curls (netns)', () => {
  let lab: Lab | undefined;
  let run: CliRun | undefined;
  afterAll(async () => {
    run?.kill();
    await lab?.teardown();
  });

  it(`attributes one-shot curls without the gate (user, exe, pid)`, async () => {
    lab = await createLab({ prefix: 'iwpas', connection: 'close' });
    run = new CliRun(lab, ['scan', '--no-gate', '--duration', '300s', '--format', 'ndjson']);
    await run.ready({ gate: false });
    const r = await lab.run('client', ['sh', '-c', CURL_LOOP], { timeoutMs: 120_000 });
    const pids = r.stdout.split('\n').filter(Boolean).map(Number);
    expect(pids).toHaveLength(N);
    await run.waitForEvents(N, 30_000);
    run.interrupt();
    const res = await run.result;
    expect({ code: res.code, signal: res.signal }, res.stderr).toEqual({ code: 0, signal: null });
    expect(res.events).toHaveLength(N);
    const byPid = new Map(res.events.map((e) => [e.process?.pid, e]));
    const attributed = pids.filter((pid) => {
      const e = byPid.get(pid);
      return e?.attribution === 'passive' && e.process?.exe === '/usr/bin/curl' && e.process.user === 'nobody';
    });
    console.log(`scan --no-gate, ${N} one-shot curls: ${attributed.length}/${N} attributed (pid, exe, user); ${tally(res.events)}`);
    // no event names a wrong process, and every attributed one its login session: one per curl
    const sessions = new Set<number | null>();
    for (const e of res.events) {
      if (!e.process) continue;
      expect(pids).toContain(e.process.pid);
      // the login is read before the exe (src/enrich/process/process-cache.ts): a caller that
      // exited while it was read has neither or both
      if (e.process.exe === null) continue;
      expect(e.process.login).toMatchObject({ uid: 65534, user: 'nobody', session: expect.any(Number) });
      sessions.add(e.process.login!.session);
    }
    expect(attributed.length).toBeGreaterThan(0);
    expect(sessions.size).toBeGreaterThanOrEqual(attributed.length);
  }, 240_000);
});
