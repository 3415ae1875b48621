import { spawnSync } from 'node:child_process';
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync, type Stats } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkDirectory, directoryRisk, openAppend, readNoFollow, UnsafePathError, writeFileAtomic } from '../../src/files/safe-file.js';
import { closeSync, writeSync } from 'node:fs';

/** src/files/safe-file.ts: the rules on their own (the daemon under attack: test/security/symlink-files.test.ts) */
const stat = (uid: number, gid: number, mode: number): Stats => ({ uid, gid, mode: 0o040000 | mode, isDirectory: () => true }) as unknown as Stats;

describe('directoryRisk', () => {
  it.each([
    ['root 0755', stat(0, 0, 0o755), null, false],
    ['ours 0700', stat(999, 999, 0o700), null, false],
    ['ours, our group 0770', stat(999, 999, 0o770), null, false],
    ['root, group syslog (a system group) 0775, as Ubuntu’s /var/log', stat(0, 104, 0o775), null, false],
    ['root 1777 (/tmp)', stat(0, 0, 0o1777), null, true],
    ['root 0777', stat(0, 0, 0o777), 'every user can write it', false],
    ['a user’s group 0775', stat(0, 1234, 0o775), 'group 1234 can write it', false],
    ['another user’s 0755', stat(4321, 4321, 0o755), 'it belongs to uid 4321', false],
    ['another user’s 1777', stat(4321, 0, 0o1777), 'it belongs to uid 4321', false],
  ])('%s', (_name, st, risk, shared) => {
    // the daemon's user in these rows: uid 999, gid 999
    expect(directoryRisk(st, { uid: 999, gid: 999 })).toEqual({ risk, shared });
  });
});

describe('safe file primitives', () => {
  const base = mkdtempSync(join(tmpdir(), 'imdswatch-safe-'));
  afterAll(() => rmSync(base, { recursive: true, force: true }));
  const sub = (name: string, mode = 0o700): string => {
    const d = join(base, name);
    mkdirSync(d);
    chmodSync(d, mode);
    return d;
  };
  const refusal = (f: () => unknown): UnsafePathError => {
    try {
      f();
    } catch (err) {
      expect(err).toBeInstanceOf(UnsafePathError);
      expect((err as UnsafePathError).code).toBe('E_UNSAFE_PATH');
      expect((err as Error).message).not.toContain('\n');
      return err as UnsafePathError;
    }
    throw new Error('not refused');
  };

  it('openAppend never follows a symlink at the file’s name, and leaves its target alone', () => {
    const d = sub('link');
    const victim = join(d, 'victim');
    writeFileSync(victim, 'x\n', { mode: 0o644 });
    symlinkSync(victim, join(d, 'log'));
    expect(refusal(() => openAppend(join(d, 'log'))).message).toMatch(/log: it is a symlink/);
    expect(readFileSync(victim, 'utf8')).toBe('x\n');
    expect(statSync(victim).mode & 0o777).toBe(0o644);
    expect(() => readNoFollow(join(d, 'log'))).toThrow(/it is a symlink/);
  });

  it('a FIFO in the file’s place is refused at once, not waited on', () => {
    const d = sub('fifo');
    expect(spawnSync('mkfifo', [join(d, 'log')]).status).toBe(0);
    expect(refusal(() => openAppend(join(d, 'log'))).message).toMatch(/not a regular file/);
  });

  it('openAppend creates 0600, appends, and sets 0600 on an existing file', () => {
    const d = sub('append');
    const p = join(d, 'log');
    writeFileSync(p, 'a\n', { mode: 0o644 });
    chmodSync(p, 0o644);
    const { fd, size } = openAppend(p);
    expect(size).toBe(2);
    writeSync(fd, 'b\n');
    closeSync(fd);
    expect(readFileSync(p, 'utf8')).toBe('a\nb\n');
    expect(statSync(p).mode & 0o777).toBe(0o600);
  });

  it('writeFileAtomic: a random O_EXCL temporary name — a planted link at any predictable name is never used', () => {
    const d = sub('atomic');
    const victim = join(d, 'victim');
    writeFileSync(victim, 'x\n');
    for (const name of [`state.json.tmp-${process.pid}`, 'state.json.tmp', '.state.json.tmp']) symlinkSync(victim, join(d, name));
    writeFileAtomic(join(d, 'state.json'), '{"a":1}\n');
    expect(readFileSync(victim, 'utf8')).toBe('x\n');
    expect(readFileSync(join(d, 'state.json'), 'utf8')).toBe('{"a":1}\n');
    expect(lstatSync(join(d, 'state.json')).mode & 0o777).toBe(0o600);
    // nothing left behind but what was planted
    expect(readdirSync(d).sort()).toEqual(['.state.json.tmp', 'state.json', 'state.json.tmp', `state.json.tmp-${process.pid}`, 'victim'].sort());
  });

  it('a directory every user can write is refused, also when reached through a symlink; a sticky one of root’s is not', () => {
    const open = sub('open', 0o777);
    expect(refusal(() => writeFileAtomic(join(open, 'state.json'), 'x')).message).toMatch(/every user can write it/);
    const d = sub('via');
    symlinkSync(open, join(d, 'dir'));
    expect(refusal(() => checkDirectory(join(d, 'dir'))).message).toMatch(/open: every user can write it/);
    const sticky = sub('sticky', 0o1777);
    if (statSync(sticky).uid === 0) expect(checkDirectory(sticky)).toEqual({ path: sticky, shared: true });
    else expect(refusal(() => checkDirectory(sticky)).message).toMatch(/every user can write it/);
  });
});
