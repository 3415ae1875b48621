import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { markReady, readyFilePath } from '../../src/service/ready-file.js';

const dir = mkdtempSync(join(tmpdir(), `imdswatch-ready-${process.pid}-`));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('ready file', () => {
  it('is $RUNTIME_DIRECTORY/ready, which the unit’s ExecStartPost waits for', () => {
    expect(readyFilePath({ RUNTIME_DIRECTORY: '/run/imdswatch' })).toBe('/run/imdswatch/ready');
    expect(readyFilePath({ RUNTIME_DIRECTORY: '/run/a:/run/b' })).toBe('/run/a/ready');
    const unit = readFileSync(new URL('../../systemd/imdswatch.service', import.meta.url), 'utf8');
    expect(unit).toMatch(/^ExecStartPost=.*\$\$\{RUNTIME_DIRECTORY\}\/ready/m);
    expect(unit).toMatch(/^RuntimeDirectory=imdswatch$/m);
  });

  it('not under systemd: does nothing', () => {
    expect(markReady({})).toBeNull();
  });

  it('writes the file atomically with mode 0600', () => {
    const p = markReady({ RUNTIME_DIRECTORY: dir }, 4242);
    expect(p).toBe(join(dir, 'ready'));
    expect(readFileSync(p!, 'utf8')).toBe('4242\n');
    expect(readdirSync(dir)).toEqual(['ready']);
  });

  it('an unwritable directory returns null, never throws', () => {
    expect(markReady({ RUNTIME_DIRECTORY: join(dir, 'missing', 'deeper') })).toBeNull();
  });
});
