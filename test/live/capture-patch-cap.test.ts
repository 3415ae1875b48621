import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * native/cap-snaplen/patch-cap.mjs rebuilds cap with node-gyp, whose `rebuild` removes
 * build/ first. When the rebuild failed after that (run outside npm, which supplies the
 * nodedir setting: node-gyp then fetches node headers, and fails offline), the script
 * restored the source and rebuilt it the same failing way: cap was left with no cap.node at
 * all, and every live command failed with E_CAPTURE_NO_CAP (seen here in a worktree). Run on a copy of the installed cap (its
 * stamp removed, so the script rebuilds) with node-gyp pointed at missing node headers: the
 * copy's working addon must still be there, byte for byte, and the source unchanged.
 */
const capDir = dirname(createRequire(import.meta.url).resolve('cap/package.json'));
const addon = join(capDir, 'build', 'Release', 'cap.node');
const script = join(import.meta.dirname, '..', '..', 'native', 'cap-snaplen', 'patch-cap.mjs');
/** npm's own node-gyp (what runs the install script; not on PATH outside npm) */
const nodeGypBin = join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'bin', 'node-gyp-bin');
const tmp = mkdtempSync(join(tmpdir(), 'imdswatch-patch-cap-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe.skipIf(!existsSync(addon) || !existsSync(nodeGypBin))('patch-cap: a failed rebuild', () => {
  it('keeps the working cap.node and the source as they were', () => {
    // the script finds cap through node_modules next to its own tree
    mkdirSync(join(tmp, 'native', 'cap-snaplen'), { recursive: true });
    mkdirSync(join(tmp, 'node_modules'));
    cpSync(script, join(tmp, 'native', 'cap-snaplen', 'patch-cap.mjs'));
    const cap = join(tmp, 'node_modules', 'cap');
    cpSync(capDir, cap, { recursive: true });
    for (const f of ['.imdswatch-patches-4', '.imdswatch-patches-5', '.imdswatch-patches-6', '.imdswatch-patches-7']) {
      const stamp = join(cap, 'build', 'Release', f);
      if (existsSync(stamp)) unlinkSync(stamp);
    }
    const before = readFileSync(join(cap, 'build', 'Release', 'cap.node'));
    const source = readFileSync(join(cap, 'src', 'binding.cc'), 'utf8');
    const r = spawnSync(process.execPath, [join(tmp, 'native', 'cap-snaplen', 'patch-cap.mjs')], {
      encoding: 'utf8',
      // npm's node-gyp, pointed at node headers that are not there: it removes build/, then fails
      env: { PATH: `${nodeGypBin}:/usr/bin:/bin`, HOME: tmp, npm_config_nodedir: join(tmp, 'no-node-headers') },
      timeout: 120_000,
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/rebuilding cap failed/);
    const built = join(cap, 'build', 'Release', 'cap.node');
    expect(existsSync(built), 'cap.node is gone').toBe(true);
    expect(readFileSync(built).equals(before)).toBe(true);
    expect(readFileSync(join(cap, 'src', 'binding.cc'), 'utf8')).toBe(source);
    expect(existsSync(join(cap, 'build.imdswatch-kept'))).toBe(false);
    // the copy still loads
    const load = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(cap)}); console.log('loaded')`], { encoding: 'utf8', timeout: 20_000 });
    expect(load.stdout.trim(), load.stderr).toBe('loaded');
  });
});
