import { closeSync, constants, fstatSync, openSync, readdirSync, readSync } from 'node:fs';

/**
 * The resolver's only I/O: read one small regular file, list one directory. Read-only,
 * synchronous (the SYN gate resolves inside its hold), bounded, never throws.
 *
 * A file is opened O_RDONLY|O_NOFOLLOW|O_NONBLOCK and checked with fstat before any byte is
 * read: a symlink, FIFO, device or directory is refused, and so is a file over `maxBytes`
 * (so a hostile or corrupt multi-gigabyte config file costs one fstat).
 */
export type ReadOutcome =
  | { ok: true; text: string }
  | { ok: false; code: 'missing' | 'unreadable' | 'not-a-file' | 'too-large' };

export interface MetadataFs {
  readSmallFile(path: string, maxBytes: number): ReadOutcome;
  /** entry names, or null when the directory is missing or unreadable */
  listDir(path: string): string[] | null;
}

const MISSING = new Set(['ENOENT', 'ENOTDIR']);

function failure(err: unknown): ReadOutcome {
  const code = (err as NodeJS.ErrnoException)?.code ?? '';
  if (MISSING.has(code)) return { ok: false, code: 'missing' };
  // ELOOP: O_NOFOLLOW met a symlink
  if (code === 'ELOOP' || code === 'EISDIR') return { ok: false, code: 'not-a-file' };
  return { ok: false, code: 'unreadable' };
}

export const nodeMetadataFs: MetadataFs = {
  readSmallFile(path, maxBytes) {
    let fd: number;
    try {
      fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (err) {
      return failure(err);
    }
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) return { ok: false, code: 'not-a-file' };
      if (st.size > maxBytes) return { ok: false, code: 'too-large' };
      // read at most maxBytes + 1 even if the file grew after fstat
      const buf = Buffer.allocUnsafe(Math.min(maxBytes + 1, Math.max(st.size, 4096) + 1));
      let len = 0;
      for (;;) {
        const n = readSync(fd, buf, len, buf.length - len, null);
        if (n === 0) break;
        len += n;
        if (len > maxBytes) return { ok: false, code: 'too-large' };
        if (len === buf.length) break;
      }
      return { ok: true, text: buf.toString('utf8', 0, len) };
    } catch (err) {
      return failure(err);
    } finally {
      try {
        closeSync(fd);
      } catch {
        /* already closed */
      }
    }
  },
  listDir(path) {
    try {
      return readdirSync(path);
    } catch {
      return null;
    }
  },
};
