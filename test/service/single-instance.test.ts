import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { acquireDaemonLock, AlreadyRunningError, daemonRunning, lockPlace, type LockPlace } from '../../src/service/single-instance.js';
import { UnsafePathError } from '../../src/files/safe-file.js';

/** the lock on its own (against a squatter and a second real daemon: test/security/lock-squatter.test.ts) */
describe('one daemon per network namespace (a socket in a directory only root or the daemon can write)', () => {
  const base = mkdtempSync(join(tmpdir(), 'imdswatch-lock-'));
  afterAll(() => rmSync(base, { recursive: true, force: true }));
  let n = 0;
  const place = (netns = '4026531992'): LockPlace => ({ dirs: [join(base, `run${++n}`)], netns });
  const refusal = (p: Promise<unknown>) =>
    p.then(
      () => null,
      (e: unknown) => e,
    );

  it('refuses a second holder, naming the first one’s pid, and frees the lock on release', async () => {
    const p = place();
    expect(await daemonRunning(p)).toEqual({ running: false, pid: null });
    const first = await acquireDaemonLock(p);
    expect(await daemonRunning(p)).toEqual({ running: true, pid: process.pid });
    const err = await refusal(acquireDaemonLock(p));
    expect(err).toBeInstanceOf(AlreadyRunningError);
    expect((err as AlreadyRunningError).pid).toBe(process.pid);
    expect((err as Error).message).toContain(`pid ${process.pid}`);
    first.release();
    expect(existsSync(first.path)).toBe(false);
    const again = await acquireDaemonLock(p);
    again.release();
  });

  it('of two taken at the same moment exactly one holds', async () => {
    const p = place();
    const results = await Promise.allSettled([acquireDaemonLock(p), acquireDaemonLock(p), acquireDaemonLock(p)]);
    const held = results.filter((r) => r.status === 'fulfilled');
    expect(held).toHaveLength(1);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(AlreadyRunningError);
    (held[0] as PromiseFulfilledResult<{ release(): void }>).value.release();
  });

  it('a dead daemon’s socket (nothing listens) is removed, not obeyed', async () => {
    const p = place();
    mkdirSync(p.dirs[0]!, { mode: 0o700 });
    const stale = join(p.dirs[0]!, `daemon-n${p.netns}-p4242-00aa.sock`);
    // a daemon killed with SIGKILL leaves its socket file behind
    const r = spawnSync(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(stale)}, () => process.kill(process.pid, 'SIGKILL'))`]);
    expect(r.signal).toBe('SIGKILL');
    expect(existsSync(stale)).toBe(true);
    expect(await daemonRunning(p)).toEqual({ running: false, pid: null });
    expect(existsSync(stale)).toBe(false);
    (await acquireDaemonLock(p)).release();
  });

  it('another network namespace’s daemon is not in the way', async () => {
    const p = place('1');
    const other = await acquireDaemonLock(p);
    const mine = await acquireDaemonLock({ ...p, netns: '2' });
    expect(await daemonRunning({ ...p, netns: '2' })).toEqual({ running: true, pid: process.pid });
    mine.release();
    other.release();
    expect(readdirSync(p.dirs[0]!)).toEqual([]);
  });

  it('a directory others can write is refused (E_UNSAFE_PATH)', async () => {
    const p = place();
    mkdirSync(p.dirs[0]!);
    chmodSync(p.dirs[0]!, 0o777);
    const err = await refusal(acquireDaemonLock(p));
    expect(err).toBeInstanceOf(UnsafePathError);
  });

  it('where /run/imdswatch cannot be made (a read-only /run), beside the state; a daemon looking in both sees it', async () => {
    // nothing can be made under /proc, not even by root: it stands for a read-only /run
    const fallback = join(base, `state${++n}`);
    const p: LockPlace = { dirs: ['/proc/imdswatch-lock-test', fallback], netns: '7' };
    const lock = await acquireDaemonLock(p);
    expect(lock.path.startsWith(`${fallback}/daemon-n7-p${process.pid}-`)).toBe(true);
    expect(await daemonRunning(p)).toEqual({ running: true, pid: process.pid });
    lock.release();
  });

  it('sockets in a directory others can write are not obeyed', async () => {
    const open = join(base, `open${++n}`);
    mkdirSync(open);
    chmodSync(open, 0o777);
    const s = createServer();
    await new Promise<void>((r) => s.listen({ path: join(open, 'daemon-n8-p1-aaaa.sock') }, () => r()));
    expect(await daemonRunning({ dirs: [open], netns: '8' })).toEqual({ running: false, pid: null });
    await new Promise<void>((r) => s.close(() => r()));
  });

  it('the place: IMDSWATCH_RUN_DIR alone, or /run/imdswatch then the state directories; this process’s network namespace', () => {
    expect(lockPlace({}).dirs).toEqual(['/run/imdswatch', '/var/lib/imdswatch']);
    expect(lockPlace({}, ['/srv/state', '/var/lib/imdswatch']).dirs).toEqual(['/run/imdswatch', '/srv/state', '/var/lib/imdswatch']);
    expect(lockPlace({ IMDSWATCH_RUN_DIR: '/x' }).dirs).toEqual(['/x']);
    expect(lockPlace({}).netns).toMatch(/^\d+$/);
  });
});
