import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { NOBODY_UID, asNobody, ownLines, securityPrerequisites, startDaemon, type DaemonRun } from './support.js';

/**
 * Attack 3 (docs/design.md#security): with --log-file/--state-file in a directory another
 * user can write, that user plants a symlink where the daemon (root) will write — the log
 * file, or the state's temporary file — pointing at a file of root's. The daemon must
 * neither follow it nor chmod, append to, truncate or overwrite the target; a directory
 * others can write (not sticky and root's) is refused in one line.
 */
const skip = securityPrerequisites();
const ROOT_TEXT = 'root:secret-stays-as-it-is\n';

describe.skipIf(skip !== null)('a local user cannot make the daemon write root’s files through a symlink', () => {
  const base = mkdtempSync(join(tmpdir(), 'imdswatch-symlink-'));
  chmodSync(base, 0o755);
  // root's file, in a directory only root can enter
  const vault = join(base, 'vault');
  mkdirSync(vault, { mode: 0o700 });
  const target = join(vault, 'root-file');
  let daemon: DaemonRun | null = null;
  let n = 0;

  const freshTarget = (): void => {
    writeFileSync(target, ROOT_TEXT, { mode: 0o644 });
    chmodSync(target, 0o644);
  };
  const targetUntouched = (): void => {
    expect(readFileSync(target, 'utf8')).toBe(ROOT_TEXT);
    expect(statSync(target).mode & 0o777).toBe(0o644);
  };
  /** a directory with this mode (and owner), in which nobody plants things */
  const dir = (mode: number, uid = 0): string => {
    const d = join(base, `d${++n}`);
    mkdirSync(d);
    chmodSync(d, mode);
    chownSync(d, uid, 0);
    return d;
  };
  const safeState = (): string => {
    const d = join(base, `state${++n}`);
    mkdirSync(d, { mode: 0o700 });
    return join(d, 'state.json');
  };
  const plant = (link: string): void => {
    const r = asNobody(['ln', '-s', target, link]);
    expect(r.status, r.stderr).toBe(0);
    expect(lstatSync(link).uid).toBe(NOBODY_UID);
  };
  const run = (args: string[], held = false): DaemonRun => {
    daemon = startDaemon(['unshare', '-n'], ['--no-gate', '--metrics', 'off', ...args], { held });
    return daemon;
  };

  afterEach(async () => {
    if (daemon && !daemon.exited()) await daemon.stop();
    daemon = null;
  });
  afterAll(() => rmSync(base, { recursive: true, force: true }));

  it('log file: a symlink in a directory every user can write — refused in one line, the target untouched', async () => {
    freshTarget();
    const d = dir(0o777);
    plant(join(d, 'imdswatch.log'));
    const r = run(['--log-file', join(d, 'imdswatch.log'), '--state-file', safeState()]);
    const how = await r.settled();
    const exit = await r.stop();
    targetUntouched();
    expect(how, r.out()).toBe('exited');
    expect(exit.code).toBe(2);
    expect(ownLines(r.err())).toEqual([expect.stringMatching(new RegExp(`^imdswatch: refusing ${d}: ${d}: every user can write it`))]);
  });

  it('state file: a symlink at the temporary file’s name (the daemon’s pid) — the target untouched', async () => {
    freshTarget();
    const d = dir(0o777);
    const r = run(['--log-file', 'off', '--state-file', join(d, 'state.json')], true);
    // the old temporary name was `${path}.tmp-${pid}`: plant it before the daemon runs
    plant(join(d, `state.json.tmp-${r.pid}`));
    r.release();
    const how = await r.settled();
    const exit = await r.stop();
    targetUntouched();
    expect(how, r.out()).toBe('exited');
    expect(exit.code).toBe(2);
    expect(ownLines(r.err())).toEqual([expect.stringMatching(/^imdswatch: refusing .*every user can write it/)]);
  });

  it('a directory another user owns is refused', async () => {
    const d = dir(0o755, NOBODY_UID);
    const r = run(['--log-file', join(d, 'imdswatch.log'), '--state-file', safeState()]);
    expect(await r.settled()).toBe('exited');
    expect((await r.stop()).code).toBe(2);
    expect(ownLines(r.err())).toEqual([expect.stringMatching(/^imdswatch: refusing .*belongs to uid 65534/)]);
    expect(existsSync(join(d, 'imdswatch.log'))).toBe(false);
  });

  it('a sticky directory of root’s is allowed: planted symlinks are refused, capture goes on, the state is saved', async () => {
    freshTarget();
    const d = dir(0o1777);
    const log = join(d, 'imdswatch.log');
    const state = join(d, 'state.json');
    const r = run(['--log-file', log, '--state-file', state], true);
    plant(log);
    plant(join(d, `state.json.tmp-${r.pid}`));
    r.release();
    expect(await r.settled(), r.err()).toBe('capturing');
    // the first save happens at start; the next within a second
    const deadline = Date.now() + 10_000;
    while (!existsSync(state) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 100));
    const exit = await r.stop();
    targetUntouched();
    expect(exit, r.err()).toEqual({ code: 0, signal: null });
    expect(r.out() + r.err()).toMatch(/refusing .*imdswatch\.log: it is a symlink/);
    // the state went through a temporary file of its own, not the planted name
    expect(lstatSync(state).isFile()).toBe(true);
    expect(statSync(state).uid).toBe(0);
    expect(statSync(state).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(state, 'utf8')).format).toBe('imdswatch-state/1');
    expect(lstatSync(join(d, `state.json.tmp-${r.pid}`)).isSymbolicLink()).toBe(true);
  });
});
