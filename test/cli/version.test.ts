import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/repo-root.js';

// `imdswatch --version` prints the version of the package.json beside dist/, as laid out in
// the repository, the release tarball and the .deb (/opt/imdswatch/{dist,package.json}:
// packaging/build-release.sh, install.sh). Runs dist/: `npm run build` first.
const tree = mkdtempSync(join(tmpdir(), 'imdswatch-version-'));
afterAll(() => rmSync(tree, { recursive: true, force: true }));

const version = (main: string): string => execFileSync(process.execPath, [main, '--version'], { encoding: 'utf8' }).trim();

describe('--version', () => {
  it("is the repository's package.json version", () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(version(join(REPO_ROOT, 'dist', 'cli', 'main.js'))).toBe(pkg.version);
  });

  it('is read from the package.json of the tree it runs from (a release tree), not written into the code', () => {
    cpSync(join(REPO_ROOT, 'dist'), join(tree, 'dist'), { recursive: true });
    symlinkSync(join(REPO_ROOT, 'node_modules'), join(tree, 'node_modules'));
    writeFileSync(join(tree, 'package.json'), JSON.stringify({ name: 'imdswatch', version: '9.8.7-test', type: 'module' }));
    expect(version(join(tree, 'dist', 'cli', 'main.js'))).toBe('9.8.7-test');
  });
});
