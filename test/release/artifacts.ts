// Where the release tests find the artifacts (npm run release) and the clean roots
// they run them in; what counts as a missing prerequisite (a failure under CI).
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { debianRoot, debianRootDir } from '../support/debian-root.js';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));
export const VERSION: string = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).version;
export const CI = process.env.CI === 'true';
export const isRoot = process.getuid?.() === 0;
/** the Debian 11 build root of npm run release (shared cache, packaging/debian-root.sh) */
export const BUILD_ROOT = process.env.IMDSWATCH_BUILD_ROOT ?? debianRootDir('bullseye-build');

export type Arch = 'x64' | 'arm64';
export const tarballName = (arch: Arch) => `imdswatch-${VERSION}-linux-${arch}`;
export const tarballPath = (arch: Arch) => join(REPO, 'release', `${tarballName(arch)}.tar.gz`);

export const which = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

/** true when the test can run; under CI a missing prerequisite throws instead */
export function prerequisites(what: Record<string, boolean>): boolean {
  const missing = Object.entries(what).filter(([, ok]) => !ok).map(([k]) => k);
  if (missing.length > 0 && CI) throw new Error(`release test prerequisites missing under CI: ${missing.join(', ')}`);
  return missing.length === 0;
}

export function sh(cmd: string, args: string[], opts: { input?: string; env?: Record<string, string>; timeout?: number } = {}) {
  const r = spawnSync(cmd, args, {
    encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, timeout: opts.timeout ?? 300_000,
    input: opts.input, env: { ...process.env, ...(opts.env ?? {}) },
  });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '', out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

/** unpack an artifact into a fresh temporary directory; returns that directory */
export function unpack(arch: Arch): string {
  const dir = mkdtempSync(join(tmpdir(), `imdswatch-rel-${arch}-${process.pid}-`));
  const r = sh('tar', ['-xzf', tarballPath(arch), '-C', dir]);
  if (r.status !== 0) throw new Error(`tar: ${r.stderr}`);
  return dir;
}

export function removeTree(dir: string | undefined) {
  if (dir && existsSync(dir)) rmSync(dir, { recursive: true, force: true });
}

/** a clean Debian root (minbase: no node, npm, compiler or libpcap), shared and cached; read-only */
export function cleanRoot(suite: 'bookworm' | 'bullseye'): string {
  return debianRoot(suite === 'bookworm' ? 'bookworm-min' : 'bullseye-min');
}

/**
 * Run a shell script inside ROOT seen through an overlay (the cached root stays
 * clean), with /proc and /dev, and DIRS bind-mounted at the same path inside.
 */
export function inRoot(root: string, script: string, dirs: string[] = [], timeout = 300_000) {
  return onOverlay(root, 'exec chroot "$m" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root /bin/sh -c "$1"', script, dirs, timeout);
}

/**
 * Run a bash script on the host with $m the merged overlay of ROOT (see inRoot); $1 = arg.
 * In a network namespace of its own: nothing run there (doctor probes IMDS) reaches out.
 */
export function onOverlay(root: string, hostScript: string, arg = '', dirs: string[] = [], timeout = 300_000) {
  const work = mkdtempSync(join(tmpdir(), `imdswatch-ovl-${process.pid}-`));
  const binds = dirs.map((d) => `mkdir -p "$m${d}" && mount --bind "${d}" "$m${d}"`).join(' && ');
  const outer = [
    'set -e',
    `m=${work}/merged`,
    `mkdir -p ${work}/upper ${work}/work $m`,
    `mount -t overlay overlay -o lowerdir=${root},upperdir=${work}/upper,workdir=${work}/work $m`,
    'mount -t proc proc $m/proc',
    'mount --bind /dev $m/dev',
    binds || 'true',
    hostScript,
  ].join('\n');
  try {
    return sh('unshare', ['-m', '-n', '--propagation', 'private', 'bash', '-c', outer, '_', arg], { timeout });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * the highest GLIBC_x.y version an ELF file of any architecture requires (its version
 * needs, readelf -V), or null when it requires none
 */
export function maxGlibc(file: string): string | null {
  const r = sh('readelf', ['-W', '-V', file]);
  const vs = [...r.stdout.matchAll(/Name: GLIBC_([0-9.]+)/g)].map((m) => m[1]);
  if (vs.length === 0) return null;
  return vs.sort(compareVersions).at(-1) ?? null;
}

export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** every ELF file under dir */
export function elfFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) {
        const fd = openSync(p, 'r');
        const head = Buffer.alloc(4);
        const n = readSync(fd, head, 0, 4, 0);
        closeSync(fd);
        if (n === 4 && head.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]))) out.push(p);
      }
    }
  };
  walk(dir);
  return out.sort();
}
