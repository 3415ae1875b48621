import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadProcRead, PF, readPidFilesJs, type PidFiles } from '../../../src/enrich/process/proc-read.js';
import { ProcessCache } from '../../../src/enrich/process/process-cache.js';
import { hostView } from '../../../src/enrich/process/exe-identity.js';
import { fakeProc } from './fake-proc.js';

/**
 * A process's files read in one call of the addon (native/sockdiag/src/procscan.c readProc,
 * docs/design.md#hold-read) are the bytes the JS reads give, file by file, and the
 * ProcessInfo built from them is the same. Under CI the addon must be built (and the mount
 * namespace cases need root); elsewhere those tests skip.
 */
const native = loadProcRead();
const needAddon = !native && !process.env.CI;
const root = process.getuid?.() === 0;
const FAKE_HOST = { mnt: 'mnt:[1]', root: '' };
const ALL = Object.values(PF).reduce((a, b) => a | b, 0);

/** status lines that change under a sleeping process (SigQ counts the signals queued to its uid: any root process's) */
const steady = (f: PidFiles | null) => f && { ...f, status: f.status?.replace(/^(SigQ|voluntary_ctxt_switches|nonvoluntary_ctxt_switches):.*\n/gm, '') };

const children: ChildProcess[] = [];
const dirs: string[] = [];
afterAll(() => {
  for (const c of children) if (c.pid && c.exitCode === null) process.kill(c.pid, 'SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** a process waiting in sleep (its /proc files do not change while it waits); resolves once it runs `sleep` */
async function sleeper(argv: string[]): Promise<number> {
  const c = spawn(argv[0]!, argv.slice(1), { stdio: 'ignore' });
  children.push(c);
  const pid = c.pid!;
  for (let i = 0; i < 200; i++) {
    const stat = readPidFilesJs('/proc', pid, PF.stat, null)?.stat ?? '';
    const exe = readPidFilesJs('/proc', pid, PF.exe, null)?.exe ?? '';
    if (stat.includes(') S ') && exe.endsWith('/sleep')) {
      const pids = readPidFilesJs('/proc', pid, PF.status, null)?.status ?? '';
      if (/^Threads:\t1$/m.test(pids)) return pid;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('the sleeper did not start');
}

describe.skipIf(needAddon)('readProc: one call for a process\'s files', () => {
  it('gives the bytes the JS reads give, for a live process; null for a pid that does not exist', async () => {
    const pid = await sleeper(['sleep', '30']);
    const host = hostView('/proc');
    const c = native!('/proc', pid, ALL, host);
    const js = readPidFilesJs('/proc', pid, ALL, host);
    expect(steady(c)).toEqual(steady(js));
    expect(c!.status).toMatch(/^Uid:\t\d+/m);
    expect(c!.stat).toMatch(new RegExp(`^${pid} \\(sleep\\) S `));
    expect(c!.exe).toMatch(/\/sleep$/);
    expect(c!.nsNet).toMatch(/^net:\[\d+\]$/);
    expect([c!.exeDevIno, c!.hostDevIno]).toEqual([null, null]); // the host's mount namespace: not asked
    // only what the mask asks for
    expect(native!('/proc', pid, PF.stat | PF.exe, host)).toEqual({ stat: js!.stat, exe: js!.exe });
    expect(native!('/proc', 2 ** 31 - 2, ALL, host)).toBeNull();
  });

  it.skipIf(!root && !process.env.CI)('reads the running file\'s device and inode for a process in a mount namespace of its own, as stat() gives them', async () => {
    const dir = mkdtempSync(join(tmpdir(), `imw-pread-${process.pid}-`));
    dirs.push(dir);
    const pid = await sleeper(['unshare', '-m', 'sleep', '30']);
    const host = hostView('/proc');
    const c = native!('/proc', pid, ALL, host);
    expect(c!.nsMnt).not.toBe(host.mnt);
    expect(c!.exeDevIno).toMatch(/^\d+:\d+$/);
    expect(c!.hostDevIno).toBe(c!.exeDevIno); // the host's own sleep
    expect(steady(c)).toEqual(steady(readPidFilesJs('/proc', pid, ALL, host)));
  });

  it('on a fake tree: missing files are null, the session only with a login, a command line over 64 KiB whole', () => {
    const fp = fakeProc();
    dirs.push(fp.root);
    const long = 'x'.repeat(70_000);
    fp.addPid(50, { comm: 'a', ppid: 1, uid: 1000, argv: ['/bin/a', long], exe: '/bin/a', loginuid: '1000', sessionid: '7' });
    fp.addPid(51, { comm: 'b', ppid: 1, uid: 1000, argv: ['/bin/b'], loginuid: '4294967295', sessionid: '9' });
    for (const pid of [50, 51]) expect(native!(fp.root, pid, ALL, FAKE_HOST)).toEqual(readPidFilesJs(fp.root, pid, ALL, FAKE_HOST));
    const a = native!(fp.root, 50, ALL, FAKE_HOST)!;
    expect(a.cmdline).toBe(`/bin/a\0${long}\0`);
    expect([a.loginuid, a.sessionid, a.status === null, a.nsMnt]).toEqual(['1000', '7', false, null]);
    const b = native!(fp.root, 51, ALL, FAKE_HOST)!;
    expect([b.exe, b.sessionid]).toEqual([null, null]);
  });

  it('the process cache builds the same ProcessInfo with the one-call read as from JS', async () => {
    const fp = fakeProc();
    dirs.push(fp.root);
    writeFileSync(join(fp.root, 'passwd'), 'root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n');
    fp.addPid(1, { comm: 'init', ppid: 0, uid: 0, argv: ['/sbin/init'], exe: '/sbin/init' });
    fp.addPid(60, { comm: 'sh', ppid: 1, uid: 1000, argv: ['sh', '/etc/cron.daily/x'], exe: '/bin/sh' });
    fp.addPid(61, { comm: 'curl', ppid: 60, uid: 1000, argv: ['curl', 'http://169.254.169.254/'], exe: '/usr/bin/curl', loginuid: '1000', sessionid: '3', cgroup: '0::/user.slice/user-1000.slice/session-3.scope\n' });
    const real = root || process.env.CI ? await sleeper(['sleep', '30']) : null;
    const infos = [native, null].map((procRead) => {
      const cache = new ProcessCache({ procRoot: fp.root, passwdPath: join(fp.root, 'passwd'), graceMs: 30_000, maxEntries: 64, maxAncestors: 8, now: () => Date.now(), procRead });
      const onHost = new ProcessCache({ procRoot: '/proc', passwdPath: '/etc/passwd', graceMs: 30_000, maxEntries: 64, maxAncestors: 8, now: () => Date.now(), procRead });
      return [cache.get(61, null), cache.get(61, 1000), real === null ? null : onHost.get(real, null)];
    });
    expect(infos[0]).toEqual(infos[1]);
    expect(infos[0]![0]).toMatchObject({ pid: 61, exe: '/usr/bin/curl', uid: 1000, user: 'alice', login: { uid: 1000, session: 3 }, ancestors: [{ pid: 60, exe: '/bin/sh' }, { pid: 1, exe: '/sbin/init' }] });
  });
});

// a copy of a binary bind-mounted over another path in a private mount namespace: the borrowed name is seen through the one-call read too
describe.skipIf(needAddon || (!root && !process.env.CI))('readProc: a borrowed name', () => {
  it('names the process\'s file as not the host\'s, as the JS reads do', async () => {
    const dir = mkdtempSync(join(tmpdir(), `imw-pread-${process.pid}-`));
    dirs.push(dir);
    copyFileSync('/usr/bin/sleep', join(dir, 'mine'));
    const pid = await sleeper(['unshare', '-m', 'sh', '-c', `mount --bind ${dir}/mine /usr/bin/sleep && exec /usr/bin/sleep 30`]);
    const infos = [native, null].map((procRead) =>
      new ProcessCache({ procRoot: '/proc', passwdPath: '/etc/passwd', graceMs: 30_000, maxEntries: 64, maxAncestors: 8, now: () => Date.now(), procRead }).get(pid, null),
    );
    expect(infos[0]).toEqual(infos[1]);
    expect(infos[0]).toMatchObject({ exe: "/usr/bin/sleep (not the host's file)", exeMismatch: 'other-file' });
  });

  it('names a file the host does not have, as the JS reads do', async () => {
    const dir = mkdtempSync(join(tmpdir(), `imw-pread-${process.pid}-`));
    dirs.push(dir);
    // a tmpfs over dir in the process's own mount namespace: dir/sleep is not the host's
    const pid = await sleeper(['unshare', '-m', 'sh', '-c', `mount -t tmpfs none ${dir} && cp /usr/bin/sleep ${dir}/sleep && exec ${dir}/sleep 30`]);
    const infos = [native, null].map((procRead) =>
      new ProcessCache({ procRoot: '/proc', passwdPath: '/etc/passwd', graceMs: 30_000, maxEntries: 64, maxAncestors: 8, now: () => Date.now(), procRead }).get(pid, null),
    );
    expect(infos[0]).toEqual(infos[1]);
    expect(infos[0]).toMatchObject({ exe: `${dir}/sleep (not the host's file)`, exeMismatch: 'no-host-file' });
  });
});
