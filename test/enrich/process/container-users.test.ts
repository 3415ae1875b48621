import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ContainerUsers, MAX_CONTAINER_PASSWD_BYTES, readBoundedRegularFile } from '../../../src/enrich/process/container-users.js';

/** #10 item 6: a container's uid is named from the container's own /etc/passwd (fake /proc tree here) */
const root = mkdtempSync(join(tmpdir(), 'iw-cusers-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const passwd = (pid: number, text: string): void => {
  mkdirSync(join(root, String(pid), 'root', 'etc'), { recursive: true });
  writeFileSync(join(root, String(pid), 'root', 'etc', 'passwd'), text);
};

describe('ContainerUsers', () => {
  it('names a uid from the container\'s passwd, not the host\'s', () => {
    passwd(10, 'root:x:0:0::/root:/bin/sh\nbilling:x:1000:1000::/home/billing:/bin/sh\n');
    const u = new ContainerUsers(root, () => 0);
    expect(u.nameOf(10, 1000, 'mnt:[1]')).toBe('billing');
    expect(u.nameOf(10, 1001, 'mnt:[1]')).toBeNull();
    expect(u.nameOf(10, null, 'mnt:[1]')).toBeNull();
  });

  it('does not cache a failed read (a process that just exited), and refuses FIFOs and oversized files', () => {
    const u = new ContainerUsers(root, () => 0);
    expect(u.nameOf(20, 1000, 'mnt:[2]')).toBeNull(); // no file yet
    passwd(20, 'payments:x:1000:1000::/:/bin/sh\n');
    expect(u.nameOf(20, 1000, 'mnt:[2]')).toBe('payments');
    mkdirSync(join(root, '30', 'root', 'etc'), { recursive: true });
    expect(spawnSync('mkfifo', [join(root, '30', 'root', 'etc', 'passwd')]).status).toBe(0);
    expect(readBoundedRegularFile(join(root, '30', 'root', 'etc', 'passwd'), 1024)).toBeNull();
    passwd(40, 'x'.repeat(MAX_CONTAINER_PASSWD_BYTES + 1));
    expect(u.nameOf(40, 0, 'mnt:[4]')).toBeNull();
  });
});
