/**
 * The shared Debian roots (packaging/debian-root.sh): debootstrapped once per machine into
 * $IMDSWATCH_ROOT_CACHE (default /var/cache/imdswatch-roots), keyed by recipe, built in a
 * temporary directory under a lock and renamed into place only when complete. Callers get
 * a read-only root: run things in it through an overlay or a copy, never write into it.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './repo-root.js';

export type DebianRootName = 'bookworm-min' | 'bullseye-min' | 'bookworm-boot' | 'bullseye-build';
const SCRIPT = join(REPO_ROOT, 'packaging/debian-root.sh');

/** the root's path, built first when missing (needs root then; may wait for another builder) */
export function debianRoot(name: DebianRootName): string {
  const r = spawnSync('bash', [SCRIPT, name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 45 * 60_000 });
  const path = (r.stdout ?? '').trim();
  if (r.status !== 0 || !path) throw new Error(`packaging/debian-root.sh ${name} failed (exit ${r.status}): ${(r.stderr || r.error?.message || '').slice(-1500)}`);
  return path;
}

/** where the root is or will be (does not build it) */
export function debianRootDir(name: DebianRootName): string {
  const r = spawnSync('bash', [SCRIPT, '--dir', name], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`packaging/debian-root.sh --dir ${name}: ${r.stderr}`);
  return r.stdout.trim();
}
