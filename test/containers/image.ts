import { spawnSync } from 'node:child_process';
import { appendFileSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { debianRoot } from '../support/debian-root.js';

/**
 * The test image, built offline once per machine (no registry is reachable): a
 * debootstrapped Debian 12 root with curl and a shell, as a tar that `docker import`,
 * `podman import` and `ctr image import` (the latter after wrapping) take.
 *
 * Root: the Debian 12 root shared with the boot test (packaging/debian-root.sh
 * bookworm-boot: minbase with curl, debootstrapped once per machine, read-only). The tar
 * adds two accounts the tests run as: `billing`
 * (uid 1000 — on the host uid 1000 may be someone else; #10 item 6) and `payments` (uid 1001).
 */
export const CACHE = process.env.IMDSWATCH_CONTAINERS_CACHE ?? '/var/cache/imdswatch-containers';
const TAR_NAME = 'debian-curl-v1.tar';
export const IMAGE_NAME = 'imdswatch-test/debian-curl:1';

function must(cmd: string, args: string[], what: string): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 600_000 });
  if (r.status !== 0) throw new Error(`${what} failed (${cmd} exit ${r.status}): ${(r.stderr || r.error?.message || '').slice(-800)}`);
}

/** path of the cached image tar (built on first use) */
export function ensureImageTar(): string {
  const tar = join(CACHE, TAR_NAME);
  if (existsSync(tar)) return tar;
  const root = debianRoot('bookworm-boot');
  mkdirSync(CACHE, { recursive: true });
  const tmp = `${tar}.${process.pid}.tmp`;
  const excludes = ['./etc/passwd', './etc/group', './usr/share/doc', './usr/share/man', './usr/share/locale', './usr/share/info', './var/cache/apt', './var/lib/apt/lists', './proc', './sys', './dev', './home', './root'];
  must('tar', ['-C', root, '-c', '-f', tmp, ...excludes.map((e) => `--exclude=${e}`), '.'], 'packing the image root');
  // appended entries win on extraction: the accounts, and homes for them
  const extra = mkdtempSync(join(tmpdir(), 'iwimg-'));
  try {
    mkdirSync(join(extra, 'etc'));
    copyFileSync(join(root, 'etc/passwd'), join(extra, 'etc/passwd'));
    copyFileSync(join(root, 'etc/group'), join(extra, 'etc/group'));
    appendFileSync(join(extra, 'etc/passwd'), 'billing:x:1000:1000::/home/billing:/bin/sh\npayments:x:1001:1001::/home/payments:/bin/sh\n');
    appendFileSync(join(extra, 'etc/group'), 'billing:x:1000:\npayments:x:1001:\n');
    for (const d of ['home/billing', 'home/payments', 'root', 'proc', 'sys', 'dev']) mkdirSync(join(extra, d), { recursive: true });
    must('tar', ['-C', extra, '-r', '-f', tmp, '--owner=0', '--group=0', './etc/passwd', './etc/group', './home', './root', './proc', './sys', './dev'], 'adding the test accounts');
  } finally {
    rmSync(extra, { recursive: true, force: true });
  }
  renameSync(tmp, tar);
  writeFileSync(join(CACHE, 'README'), `Test image for imdswatch's test/containers (built from ${root}). Safe to delete; rebuilt on demand.\n`);
  return tar;
}
