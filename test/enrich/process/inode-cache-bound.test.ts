import { rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { OwnerSearch } from '../../../src/enrich/process/owner-search.js';
import { fakeProc } from './fake-proc.js';

/**
 * The owner search remembers socket inodes' owners, one per lookup: every one-shot call is a
 * new socket, so the cache grew by one entry per call until 4 x maxCachedPids (262 144) and was
 * then cleared at once — a daemon at 1 000 calls/s grew its heap for minutes
 * (docs/design.md#soak-memory). Past its bound the oldest are forgotten; every call is still found.
 */
const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});

describe('OwnerSearch: the inode cache stays bounded under one-shot calls', () => {
  it('keeps at most maxInodes inodes after start, the oldest forgotten first; each call is found', () => {
    const { root, addPid } = fakeProc();
    roots.push(root);
    addPid(1, { comm: 'systemd', ppid: 0, uid: 0, argv: ['/sbin/init'], exe: '/usr/lib/systemd/systemd' });
    addPid(40, { comm: 'agent', ppid: 1, uid: 0, argv: ['agent'], exe: '/usr/bin/agent' });
    const s = new OwnerSearch(root, null, 65_536, () => undefined, 1, 8);
    s.prime();
    const fd = join(root, '40', 'fd', '5');
    for (let k = 0; k < 40; k++) {
      rmSync(fd, { force: true });
      symlinkSync(`socket:[${9000 + k}]`, fd);
      expect(s.find(9000 + k, 0, performance.now() + 10_000)).toBe(40);
    }
    expect(s.cachedOwners).toBeLessThanOrEqual(8);
    expect(s.ownerOf(9039)).toEqual({ pid: 40, fd: '5' });
    expect(s.ownerOf(9000)).toBeUndefined();
  });
});
