/**
 * `imdswatch replay` sets glibc's trim threshold through the sockdiag addon at start
 * (src/cli/memory-tuning.ts, native/sockdiag/src/malloc-tuning.c; docs/design.md#malloc-trim);
 * other commands keep glibc's default, and a missing addon changes nothing but the speed.
 * The CLI runs are observed with a preloaded hook that wraps process.dlopen and records every
 * mallocTune call and its answer.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/testkit/make-edge-pcaps.js';
import { REPLAY_MALLOC_TRIM_THRESHOLD, tuneMallocForReplay } from '../../src/cli/memory-tuning.js';

const CLI = join(REPO_ROOT, 'dist', 'cli', 'main.js');
const ADDON = join(REPO_ROOT, 'native', 'sockdiag', 'build', 'Release', 'sockdiag.node');
const built = existsSync(ADDON);
if (!built && process.env.CI === 'true') throw new Error(`${ADDON} is not built (npm run build:native)`);

const dir = mkdtempSync(join(tmpdir(), 'imdswatch-malloc-tuning-'));
const HOOK = join(dir, 'hook.cjs');
writeFileSync(
  HOOK,
  `const calls = [];
  const dlopen = process.dlopen;
  process.dlopen = function (module, file, ...rest) {
    const r = dlopen.call(this, module, file, ...rest);
    const real = module.exports && module.exports.mallocTune;
    // the addon's properties are read-only: hand out a copy with the call recorded
    if (typeof real === 'function') module.exports = { ...module.exports, mallocTune: (...a) => { const ok = real(...a); calls.push([...a, ok]); return ok; } };
    return r;
  };
  process.on('exit', () => require('fs').writeSync(2, '\\nMALLOCTUNE ' + JSON.stringify(calls) + '\\n'));`,
);

function mallocTuneCalls(args: string[], env: Record<string, string> = {}): unknown[] {
  const r = spawnSync(process.execPath, ['-r', HOOK, CLI, ...args], { encoding: 'utf8', cwd: REPO_ROOT, env: { ...process.env, ...env } });
  const line = r.stderr.split('\n').find((l) => l.startsWith('MALLOCTUNE '));
  expect(line, r.stderr).toBeDefined();
  return JSON.parse(line!.slice('MALLOCTUNE '.length)) as unknown[];
}

describe.skipIf(!built)('glibc trim threshold for replay', () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('the addon sets it on glibc and refuses a value mallopt cannot take', () => {
    const addon = createRequire(import.meta.url)(ADDON) as { mallocTune(trim: number, mmap: number): boolean };
    expect(addon.mallocTune(REPLAY_MALLOC_TRIM_THRESHOLD, 0)).toBe(true);
    expect(addon.mallocTune(-1, 0)).toBe(false);
    expect(addon.mallocTune(2 ** 40, 0)).toBe(false);
  });

  it('replay sets it once, before reading, to 8 MiB', () => {
    expect(mallocTuneCalls(['replay', '--no-progress', '--format', 'json', 'pcaps/edge/baseline.pcap'])).toEqual([[8 * 1024 * 1024, 0, true]]);
  });

  it('other commands and IMDSWATCH_V8_DEFAULTS=1 keep glibc’s default', () => {
    expect(mallocTuneCalls(['--help'])).toEqual([]);
    expect(mallocTuneCalls(['report', '--help'])).toEqual([]);
    expect(mallocTuneCalls(['replay', '--no-progress', 'pcaps/edge/baseline.pcap'], { IMDSWATCH_V8_DEFAULTS: '1' })).toEqual([]);
  });

  it('without the addon (or with one that has no mallocTune) nothing is set and nothing throws', () => {
    expect(tuneMallocForReplay(join(dir, 'missing.node'))).toBe(false);
    const notAddon = join(dir, 'not-an-addon.node');
    writeFileSync(notAddon, 'not an ELF file');
    expect(tuneMallocForReplay(notAddon)).toBe(false);
  });
});
