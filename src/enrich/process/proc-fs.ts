import { closeSync, openSync, readdirSync, readlinkSync, readSync, statSync } from 'node:fs';

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

let scratch = Buffer.allocUnsafe(256 * 1024);
/** procfs files over this size are cut (a 10 000-socket /proc/net/tcp is ~1.5 MB) */
const MAX_PROC_FILE = 64 * 1024 * 1024;

/**
 * Read a procfs file into one reused buffer. With `until`, stop as soon as the text read so
 * far contains that string: every read() of /proc/net/tcp returns at most one kernel page of
 * rows, and reading on to the end walks the kernel's whole established hash (~1 ms on a host
 * with 256 K buckets, twice with the EOF read), so a lookup stops at its row. seq_file returns
 * whole rows per read, so the matched row is complete.
 */
export function readText(path: string, until?: string): string | null {
  return tolerate(() => {
    const fd = openSync(path, 'r');
    try {
      let len = 0;
      for (;;) {
        if (scratch.length - len < 64 * 1024) {
          if (scratch.length >= MAX_PROC_FILE) break;
          const bigger = Buffer.allocUnsafe(scratch.length * 2);
          scratch.copy(bigger, 0, 0, len);
          scratch = bigger;
        }
        const n = readSync(fd, scratch, len, scratch.length - len, null);
        if (n === 0) break;
        const from = Math.max(0, len - (until?.length ?? 0));
        len += n;
        // search only what this read filled: past len the buffer holds an earlier file's bytes
        const at = until ? scratch.subarray(0, len).indexOf(until, from, 'latin1') : -1;
        if (at >= 0 && scratch.subarray(0, len).indexOf(10, at) >= 0) break;
      }
      return scratch.toString('latin1', 0, len);
    } finally {
      closeSync(fd);
    }
  });
}

/**
 * A small file of one process (/proc/PID/stat, status, cmdline, cgroup, loginuid, sessionid):
 * the kernel produces each of these whole on the first read() (stat, status and cgroup are
 * single-record seq files, cmdline and the audit ids copy all that fits), so a first read that
 * does not fill the buffer is the whole file and the read that would return 0 is not made:
 * 3 system calls instead of 4, on the SYN gate's hold (docs/design.md#hold-work). Never for
 * multi-record files (/proc/net/tcp, uid_map, mountinfo): their reads stop at a page with more
 * to come, so they go through readText. A file that fills the buffer is read on to its end.
 */
export function readPidFile(path: string): string | null {
  return tolerate(() => {
    const fd = openSync(path, 'r');
    try {
      const n = readSync(fd, scratch, 0, scratch.length, null);
      if (n < scratch.length) return scratch.toString('latin1', 0, n);
    } finally {
      closeSync(fd);
    }
    return readText(path);
  });
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
