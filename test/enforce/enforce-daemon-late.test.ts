import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLab, labAvailable, type Lab } from '../support/lab/netns.js';
import { run, startDaemon, type Daemon } from '../support/lab/proc.js';
import { REPO_ROOT } from '../support/repo-root.js';
import { cgroup2MountFrom } from '../../src/enforce/workload.js';
import { TABLE_PREFIX } from '../../src/enforce/owned-table.js';
import type { DaemonState } from '../../src/ledger/ledger.js';

/**
 * A workload of the daemon's `enforce` setting that is not there when the daemon starts (at
 * boot the usual case; docs/design.md#enforce-in-effect): it is enforced once it appears and
 * let go when it goes, and the report never lets "nothing rejected" stand for a time it was
 * not in effect. A cgroup v2 group made after the daemon's start, in the lab's client
 * namespace with the lab simulator as IMDS; the CLI from dist/.
 */
const CLI = join(REPO_ROOT, 'dist', 'cli', 'main.js');
const ROOT = cgroup2MountFrom(readFileSync('/proc/self/mounts', 'utf8'));
const available = labAvailable() && ROOT !== null && existsSync(CLI);
const URL = 'http://169.254.169.254/latest/meta-data/instance-id';
const LATE = `iwenfl-late-${process.pid}`;
const ABSENT = `iwenfl-absent-${process.pid}.service`;

describe.skipIf(!available)('imdswatch daemon: an enforce workload that appears after the start (netns, cgroup v2)', () => {
  let lab: Lab;
  let dir = '';
  const daemons: Daemon[] = [];
  const nsenter = (): string[] => ['nsenter', `--net=/run/netns/${lab.names.client}`];
  const code = async (group: string | null, extra = '') =>
    (await run([...nsenter(), 'sh', '-c', `${group ? `echo $$ > ${join(ROOT!, group, 'cgroup.procs')} && ` : ''}exec curl -s -m 3 -o /dev/null -w %{http_code} ${extra} ${URL}`], { timeoutMs: 20_000 })).stdout;
  const tables = async (): Promise<string[]> => (await run([...nsenter(), 'nft', 'list', 'tables'])).stdout.split('\n').filter((l) => l.includes(TABLE_PREFIX));
  const state = (): DaemonState => JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as DaemonState;
  const logLines = (): Array<{ level: number; msg: string; workload?: string; inEffect?: boolean }> =>
    readFileSync(join(dir, 'imdswatch.log'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { level: number; msg: string });
  const logCount = (): number => (existsSync(join(dir, 'imdswatch.log')) ? logLines().length : 0);
  /** the daemon's log line, after the first `from` lines, about LATE coming into (true) or leaving (false) effect */
  const transition = async (inEffect: boolean, from: number): Promise<void> => {
    const deadline = Date.now() + 30_000; // a bound on a hung daemon, not a speed check
    for (;;) {
      if (logCount() > from && logLines().slice(from).some((l) => l.workload === `cgroup:/${LATE}` && l.inEffect === inEffect)) return;
      if (Date.now() > deadline) throw new Error(`no log line: cgroup:/${LATE} ${inEffect ? 'in effect' : 'not in effect'}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const daemon = async (): Promise<Daemon> => {
    const d = await startDaemon([...nsenter(), process.execPath, CLI, 'daemon', '--config', join(dir, 'config.json'), '--gate-budget', '500'], /capturing on/, { timeoutMs: 60_000 });
    daemons.push(d);
    return d;
  };
  const removeGroup = (): void => {
    if (ROOT && existsSync(join(ROOT, LATE))) rmdirSync(join(ROOT, LATE));
  };

  beforeAll(async () => {
    lab = await createLab({ prefix: 'iwenfl', connection: 'close' });
    removeGroup();
    dir = mkdtempSync(join(tmpdir(), 'iwenfl-'));
    const config = {
      logFile: join(dir, 'imdswatch.log'),
      stateFile: join(dir, 'state.json'),
      metricsPort: 'off',
      saveIntervalSec: 1,
      enforce: [{ cgroup: LATE }, { unit: ABSENT }],
    };
    writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  }, 60_000);
  afterEach(async () => {
    for (const d of daemons.splice(0)) await d.stop('SIGTERM').catch(() => undefined);
    removeGroup();
  });
  afterAll(async () => {
    for (const d of daemons.splice(0)) await d.stop('SIGKILL').catch(() => undefined);
    await lab?.teardown();
    removeGroup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('enforces a cgroup made after the start, lets it go when it is removed, and the report names the time it was not in effect', async () => {
    const d = await daemon();
    await transition(false, 0);
    expect(await tables()).toEqual([]);
    let from = logCount();
    mkdirSync(join(ROOT!, LATE));
    await transition(true, from);
    expect(await tables()).toHaveLength(1);
    expect(await code(LATE)).toBe('401');
    expect(await code(null)).toBe('200');
    from = logCount();
    removeGroup(); // curl has exited: the group is empty
    await transition(false, from);
    expect(await tables()).toEqual([]);
    await d.stop('SIGTERM');
    expect(d.child.exitCode, d.lines.slice(-5).join('\n')).toBe(0);

    const log = logLines(); // the first test: the log holds this daemon's lines only
    expect(log.filter((l) => l.level >= 50).map((l) => l.msg)).toEqual([]);
    const moves = log.filter((l) => l.workload === `cgroup:/${LATE}` && l.inEffect !== undefined).map((l) => l.msg);
    expect(moves).toEqual([
      expect.stringMatching(new RegExp(`^cgroup:/${LATE}: not in effect: cgroup /${LATE} was not found`)),
      expect.stringMatching(new RegExp(`^cgroup:/${LATE}: in effect: HttpTokens=required`)),
      expect.stringMatching(new RegExp(`^cgroup:/${LATE}: not in effect: cgroup /${LATE} went away`)),
    ]);
    const e = state().enforce?.[`cgroup:/${LATE}`];
    expect(e).toMatchObject({ rejected: 1, inEffectSince: null, notInEffectWhy: `cgroup /${LATE} went away` });
    expect(e?.firstInEffect).toEqual(expect.any(String));
    expect(e?.notInEffectMs).toBeGreaterThan(0);
    expect(e?.inEffectMs).toBeGreaterThan(0);
    expect(state().enforce?.[`unit:${ABSENT}`]).toMatchObject({ firstInEffect: null, inEffectMs: 0, rejected: 0, notInEffectWhy: `unit ${ABSENT} was not running` });

    const report = async (format: string) => (await run([process.execPath, CLI, 'report', '--format', format, '--min-hours', '0', join(dir, 'state.json')])).stdout;
    const partly = new RegExp(`cgroup:/${LATE}: 1 token-less call\\(s\\) rejected by imdswatch enforce: .*enforced from \\S+, not in effect at the end \\(cgroup /${LATE} went away\\); in effect [\\d.]+ (s|min); not in effect for [\\d.]+ (s|min) of the time listed \\(last: cgroup /${LATE} went away\\): calls then were not checked`);
    const never = `unit:${ABSENT}: not enforced: unit ${ABSENT} was not running (listed `;
    for (const format of ['text', 'markdown', 'html']) {
      const out = await report(format);
      expect(out, format).toMatch(partly);
      expect(out, format).toContain(never);
      expect(out, format).not.toContain(`unit:${ABSENT}: no token-less call`);
    }
    const json = JSON.parse(await report('json')) as { enforce: Array<{ workload: string; firstInEffect: string | null; notInEffectMs: number; notInEffectWhy: string | null }> };
    expect(json.enforce.find((l) => l.workload === `unit:${ABSENT}`)).toMatchObject({ firstInEffect: null, notInEffectWhy: `unit ${ABSENT} was not running` });
    expect(json.enforce.find((l) => l.workload === `cgroup:/${LATE}`)?.notInEffectMs).toBeGreaterThan(0);
  }, 120_000);

  it('a workload enforced after the start fails open on SIGKILL of the daemon: it reaches IMDS again within 3 s, no rule is left', async () => {
    const start = logCount();
    const d = await daemon();
    await transition(false, start);
    const from = logCount();
    mkdirSync(join(ROOT!, LATE));
    await transition(true, from);
    expect(await code(LATE)).toBe('401');
    d.child.kill('SIGKILL');
    const t0 = Date.now();
    let got = '';
    while (Date.now() - t0 < 3_000) {
      got = await code(LATE, '-m 1');
      if (got === '200') break;
    }
    console.log(`daemon enforce (late workload): after SIGKILL the group's v1 call got ${got} after ${Date.now() - t0} ms (bound 3000 ms)`);
    expect(got).toBe('200');
    expect(await tables()).toEqual([]);
  }, 120_000);
});
