import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Debian's headless Chromium, or null where it is not installed (the tests that need it say so under CI). */
export const CHROMIUM = ['chromium', 'chromium-browser'].find((c) => spawnSync(c, ['--version'], { encoding: 'utf8' }).status === 0) ?? null;

/**
 * The DOM Chromium builds from `html` after running its scripts (`--dump-dom`), in a fresh
 * profile, with the network-free flags this machine needs; killed after 90 s ('' then).
 */
export function dumpDom(html: string, opts: { width?: number } = {}): Promise<string> {
  if (CHROMIUM === null) return Promise.reject(new Error('chromium is not installed (apt-get install chromium)'));
  const work = mkdtempSync(join(tmpdir(), 'imdswatch-chromium-'));
  const file = join(work, 'page.html');
  writeFileSync(file, html);
  const args = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', `--user-data-dir=${join(work, 'profile')}`];
  if (opts.width) args.push(`--window-size=${opts.width},900`);
  args.push('--dump-dom', `file://${file}`);
  return new Promise((resolve) => {
    const p = spawn(CHROMIUM, args, { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), 90_000);
    p.on('close', () => {
      clearTimeout(timer);
      rmSync(work, { recursive: true, force: true });
      resolve(out);
    });
  });
}
