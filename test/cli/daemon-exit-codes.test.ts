import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * Which failures systemd restarts (docs/design.md#exit-codes): the unit has
 * RestartPreventExitStatus=2, so a daemon that cannot open its interface (at early boot a
 * named NIC may not exist yet) must exit 3, not 2, or the host goes unobserved all boot.
 * Runs in a private network namespace (`unshare -n`: only lo), as root.
 */
const CLI = join(process.cwd(), 'dist/cli/main.js');
const root = process.getuid?.() === 0;
if (process.env.CI === 'true' && (!root || !existsSync(CLI))) throw new Error('CI: this test needs root and a build (npm run build)');

describe.skipIf(!root || !existsSync(CLI))('daemon exit codes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'imdswatch-exit-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const daemon = (...args: string[]) =>
    spawnSync(
      'unshare',
      ['-n', process.execPath, CLI, 'daemon', '--no-gate', '--metrics', 'off', '--no-stdout', '--log-file', join(dir, 'log'), '--state-file', join(dir, 'state.json'), ...args],
      { encoding: 'utf8', timeout: 30_000 },
    );

  it('an interface that does not exist (yet): exit 3, one line naming it, so systemd restarts', () => {
    const r = daemon('--interface', 'imdsw-none0');
    expect(r.status, r.stderr).toBe(3);
    const lines = r.stderr.trim().split('\n');
    // libpcap's own "Warning: SIOCGIFADDR: imdsw-none0: No such device" may come first (cap's native code)
    expect(lines.filter((l) => !/^Warning: SIOCGIFADDR: imdsw-none0:/.test(l))).toEqual([expect.stringMatching(/^imdswatch: cannot capture on imdsw-none0: No such device/)]);
  });

  it('a usage error: exit 2 (restarting cannot fix it)', () => {
    const r = daemon('--queue-num', 'seven');
    expect(r.status, r.stderr).toBe(2);
  });
});
