/**
 * `imdswatch replay` loads the replay chain only: none of the daemon's packages (pino,
 * prom-client) nor the live capture (cap), which cost ~0.1 s of CPU at every start
 * (src/cli/main.ts); `--help` still loads and lists every command.
 */
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/testkit/make-edge-pcaps.js';

const CLI = join(REPO_ROOT, 'dist', 'cli', 'main.js');
// preloaded: at exit, print the CommonJS packages loaded (pino, prom-client, cap and commander are CommonJS)
const HOOK = join(tmpdir(), `imdswatch-lazy-load-hook-${process.pid}.cjs`);
writeFileSync(
  HOOK,
  `process.on('exit', () => {
    const pk = new Set(Object.keys(require.cache).map((f) => (f.match(/node_modules\\/((?:@[^/]+\\/)?[^/]+)/) || [])[1]).filter(Boolean));
    require('fs').writeSync(2, '\\nPACKAGES ' + [...pk].sort().join(' ') + '\\n');
  });`,
);

function packagesLoaded(args: string[]): string[] {
  const r = spawnSync(process.execPath, ['-r', HOOK, CLI, ...args], { encoding: 'utf8', cwd: REPO_ROOT });
  const line = r.stderr.split('\n').find((l) => l.startsWith('PACKAGES'));
  expect(line, r.stderr).toBeDefined();
  return line!.split(' ').slice(1).filter(Boolean);
}

describe('the CLI loads only the command being run', () => {
  afterAll(() => rmSync(HOOK, { force: true }));

  it('replay: no daemon or live package; a plain command line not even commander (docs/design.md#replay-argv)', () => {
    const pk = packagesLoaded(['replay', '--no-progress', '--format', 'json', 'pcaps/edge/baseline.pcap']);
    for (const p of ['commander', 'pino', 'prom-client', 'cap']) expect(pk).not.toContain(p);
    // a form only commander reads (--opt=value) loads it, and still none of the daemon's
    const viaCommander = packagesLoaded(['replay', '--no-progress', '--format=json', 'pcaps/edge/baseline.pcap']);
    expect(viaCommander).toContain('commander');
    for (const p of ['pino', 'prom-client', 'cap']) expect(viaCommander).not.toContain(p);
  });

  it('--help: every command is loaded and listed', () => {
    const r = spawnSync(process.execPath, [CLI, '--help'], { encoding: 'utf8', cwd: REPO_ROOT });
    for (const c of ['replay', 'scan', 'daemon', 'report', 'gate', 'doctor']) expect(r.stdout).toMatch(new RegExp(`^  ${c} `, 'm'));
    expect(packagesLoaded(['--help'])).toEqual(expect.arrayContaining(['pino', 'prom-client']));
  });
});
