import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcCorrelator } from '../../../src/enrich/process/proc-correlator.js';
import { auditId } from '../../../src/enrich/process/process-cache.js';
import { fakeProc, HEADER, ROW, TUPLE } from './fake-proc.js';

/**
 * The login session behind a process (audit loginuid and sessionid): interactive use is named
 * per person — alice's ssh session running `sudo curl` is root's process but alice's login.
 */
describe('login session of the socket owner', () => {
  let fp: ReturnType<typeof fakeProc>;
  const owner = (loginuid?: string, sessionid?: string) => {
    fp.addPid(900, {
      comm: 'curl', ppid: 1, uid: 0, exe: '/usr/bin/curl', fds: [777001], argv: ['curl', 'http://169.254.169.254/'],
      cgroup: '0::/user.slice/user-1000.slice/session-4.scope\n', loginuid, sessionid,
    });
  };
  beforeAll(() => {
    fp = fakeProc();
    fp.setNet('net', HEADER + ROW);
    fp.addPid(1, { comm: 'systemd', ppid: 0, uid: 0, argv: ['/sbin/init'], exe: '/usr/lib/systemd/systemd', loginuid: '4294967295', sessionid: '4294967295' });
  });
  afterAll(() => rmSync(fp.root, { recursive: true, force: true }));

  it("names the person who logged in (loginuid → user, from the host passwd) and the session", () => {
    owner('1000', '4');
    const r = new ProcCorrelator({ procRoot: fp.root, passwdPath: join(fp.root, 'passwd') }).findSocketOwner(TUPLE, 1_000);
    expect(r.outcome).toBe('found');
    expect(r.process).toMatchObject({ pid: 900, uid: 1000, login: { uid: 1000, user: 'alice', session: 4 } });
  });

  it('leaves it out for a process outside any login (unset), and on a kernel without audit (no file)', () => {
    rmSync(join(fp.root, '900'), { recursive: true, force: true });
    owner('4294967295', '4294967295');
    expect(new ProcCorrelator({ procRoot: fp.root, passwdPath: join(fp.root, 'passwd') }).findSocketOwner(TUPLE, 1_000).process).not.toHaveProperty('login');
    rmSync(join(fp.root, '900'), { recursive: true, force: true });
    owner();
    const p = new ProcCorrelator({ procRoot: fp.root, passwdPath: join(fp.root, 'passwd') }).findSocketOwner(TUPLE, 1_000).process;
    expect(p?.pid).toBe(900);
    expect(p).not.toHaveProperty('login');
  });

  it('reads the kernel values: unset, numbers, garbage', () => {
    expect(auditId('4294967295')).toBeNull();
    expect(auditId('0')).toBe(0);
    expect(auditId('1000\n')).toBe(1000);
    expect(auditId('')).toBeNull();
    expect(auditId(null)).toBeNull();
    expect(auditId('-1')).toBeNull();
    expect(auditId('12x')).toBeNull();
  });
});
