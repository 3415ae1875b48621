import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

/** packaging/apt-mirror.sh: the Debian archive comes from apt's own sources, never from the repository. */
const SCRIPT = fileURLToPath(new URL('../../packaging/apt-mirror.sh', import.meta.url));
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function mirror(files: Record<string, string>, env: Record<string, string> = {}) {
  const d = mkdtempSync(join(tmpdir(), 'imdswatch-apt-'));
  dirs.push(d);
  mkdirSync(join(d, 'sources.list.d'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(d, name), text);
  const r = spawnSync('bash', [SCRIPT], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', IMDSWATCH_APT_DIR: d, ...env } });
  return { status: r.status, out: r.stdout.trim(), err: r.stderr.trim() };
}

describe('packaging/apt-mirror.sh', () => {
  it('reads a deb822 .sources file: the /debian archive, not security, not a disabled stanza or deb-src', () => {
    const r = mirror({
      'sources.list.d/debian.sources': [
        'Types: deb-src\nURIs: http://src.example/debian\nSuites: bookworm\nComponents: main',
        'Types: deb\nURIs: http://sec.example/debian-security\nSuites: bookworm-security\nComponents: main',
        'Types: deb\nEnabled: no\nURIs: http://off.example/debian\nSuites: bookworm\nComponents: main',
        'Types: deb\nURIs: http://m.example/debian/\nSuites: bookworm bookworm-updates\nComponents: main',
      ].join('\n\n'),
    });
    expect(r).toEqual({ status: 0, out: 'http://m.example/debian', err: '' });
  });

  it('reads the one-line format with options, and sources.list before sources.list.d', () => {
    const r = mirror({ 'sources.list': '# comment\ndeb [arch=amd64 signed-by=/k.gpg] http://one.example/debian bookworm main\n', 'sources.list.d/x.list': 'deb http://two.example/debian bookworm main\n' });
    expect(r.out).toBe('http://one.example/debian');
  });

  it('IMDSWATCH_DEBIAN_MIRROR overrides; no Debian source at all is one line and exit 2', () => {
    expect(mirror({}, { IMDSWATCH_DEBIAN_MIRROR: 'http://o.example/debian/' }).out).toBe('http://o.example/debian');
    const r = mirror({ 'sources.list.d/y.list': 'deb http://sec.example/debian-security bookworm-security main\n' });
    expect(r.status).toBe(2);
    expect(r.err).toMatch(/^apt-mirror: no Debian archive among apt's sources .*IMDSWATCH_DEBIAN_MIRROR/);
  });
});
