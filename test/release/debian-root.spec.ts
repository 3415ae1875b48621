// packaging/debian-root.sh, the shared Debian root cache: a root is used only when it is
// complete (stamped, at its recipe's key); a failed build leaves nothing usable and is
// cleaned up by the next builder. Runs against a scratch cache (no debootstrap succeeds:
// the mirror is a closed port on loopback).
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isRoot, prerequisites, REPO, removeTree, sh, which } from './artifacts.js';

const SCRIPT = join(REPO, 'packaging/debian-root.sh');
const ready = prerequisites({ root: isRoot, debootstrap: which('debootstrap') });
const cache = mkdtempSync(join(tmpdir(), 'iw-rootcache-'));
afterAll(() => removeTree(cache));
const env = { IMDSWATCH_ROOT_CACHE: cache, IMDSWATCH_DEBIAN_MIRROR: 'http://127.0.0.1:9/debian', IMDSWATCH_ROOT_LOCK_WAIT: '5' };
const run = (...args: string[]) => sh('bash', [SCRIPT, ...args], { env, timeout: 120_000 });

describe.skipIf(!ready)('packaging/debian-root.sh', () => {
  it('keys each root by its recipe: four distinct directories, stable across calls', () => {
    const names = ['bookworm-min', 'bullseye-min', 'bookworm-boot', 'bullseye-build'];
    const dirs = names.map((n) => run('--dir', n).stdout.trim());
    for (const [i, d] of dirs.entries()) expect(basename(d)).toMatch(new RegExp(`^${names[i]}-[0-9a-f]{12}$`));
    expect(new Set(dirs).size).toBe(4);
    expect(run('--dir', 'bookworm-min').stdout.trim()).toBe(dirs[0]);
    expect(run('--dir', 'no-such-root').status).not.toBe(0);
  });

  it('an unstamped directory at the final name is not a root', () => {
    const d = run('--dir', 'bullseye-min').stdout.trim();
    mkdirSync(join(d, 'usr/bin'), { recursive: true });
    writeFileSync(join(d, 'usr/bin/apt-get'), '');
    expect(run('--check', 'bullseye-min').status).toBe(1);
  });

  it('a failed build leaves no usable root and its leftovers are removed by the next attempt', () => {
    const stale = join(cache, '.tmp-bookworm-min.stale1');
    mkdirSync(join(stale, 'etc'), { recursive: true });
    const r = run('bookworm-min');
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/debootstrap \(first stage\) of bookworm-min failed/);
    expect(r.stdout).toBe('');
    expect(existsSync(stale)).toBe(false);
    expect(run('--check', 'bookworm-min').status).toBe(1);
    expect(existsSync(run('--dir', 'bookworm-min').stdout.trim())).toBe(false);
    expect(readdirSync(cache).filter((f) => f.startsWith('.tmp-bookworm-min.'))).toEqual([]);
  });

  it('a stamped root is used as it is, without building', () => {
    const d = run('--dir', 'bullseye-build').stdout.trim();
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, '.imdswatch-root'), 'name=bullseye-build\n');
    const r = run('bullseye-build');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(d);
    expect(r.stderr).toBe('');
  });
});
