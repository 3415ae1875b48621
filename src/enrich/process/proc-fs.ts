import { readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';

/**
 * Tolerant /proc reads: a process may vanish between any two calls, so ENOENT / ESRCH /
 * EACCES / EPERM / EINVAL yield null instead of throwing. Anything else is rethrown (a bug).
 */
const GONE = new Set(['ENOENT', 'ESRCH', 'EACCES', 'EPERM', 'EINVAL', 'ENOTDIR']);

function tolerate<T>(fn: () => T): T | null {
  try {
    return fn();
  } catch (err) {
    if (GONE.has((err as NodeJS.ErrnoException).code ?? '')) return null;
    throw err;
  }
}

export function readText(path: string): string | null {
  return tolerate(() => readFileSync(path, 'latin1'));
}

export function readLink(path: string): string | null {
  return tolerate(() => readlinkSync(path));
}

export function listDir(path: string): string[] | null {
  return tolerate(() => readdirSync(path));
}

export function mtimeMs(path: string): number | null {
  return tolerate(() => statSync(path).mtimeMs);
}

/** numeric entries of /proc, highest first */
export function listPids(procRoot: string): number[] {
  const names = listDir(procRoot) ?? [];
  const pids: number[] = [];
  for (const n of names) {
    const c = n.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const v = Number(n);
    if (Number.isInteger(v)) pids.push(v);
  }
  pids.sort((a, b) => b - a);
  return pids;
}

/** "socket:[12345]" (or the old "[0000]:12345") → 12345; null for anything else */
export function socketInodeOfLink(link: string): number | null {
  if (link.startsWith('socket:[')) return Number(link.slice(8, -1));
  if (link.startsWith('[0000]:')) return Number(link.slice(7));
  return null;
}

/** "net:[4026531840]" → 4026531840 */
export function nsInodeOfLink(link: string | null): number | null {
  if (!link) return null;
  const m = /\[(\d+)\]$/.exec(link);
  return m ? Number(m[1]) : null;
}
