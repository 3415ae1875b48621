import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { parsePasswd } from './status.js';

/**
 * User names inside containers. A container's uid 1000 is not the host's uid
 * 1000: the name comes from the container's own /etc/passwd, reached through
 * /proc/PID/root (the kernel resolves the path inside the container's root). Read-only,
 * non-blocking, a regular file of at most MAX_CONTAINER_PASSWD_BYTES; anything else (no
 * file, a FIFO, too large, unreadable) gives no name, and the event keeps the uid alone.
 * A file read is cached per mount namespace for CONTAINER_PASSWD_TTL_MS (at most
 * MAX_CONTAINER_PASSWD_CACHE entries); a failed read is not cached.
 */
export const MAX_CONTAINER_PASSWD_BYTES = 256 * 1024;
export const CONTAINER_PASSWD_TTL_MS = 30_000;
export const MAX_CONTAINER_PASSWD_CACHE = 256;

/** bounded read of a regular file; null for anything else */
export function readBoundedRegularFile(path: string, max: number): string | null {
  let fd: number | null = null;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
    const st = fstatSync(fd);
    if (!st.isFile() || st.size > max) return null;
    const buf = Buffer.alloc(Math.min(max, Math.max(st.size, 0)) + 1);
    let len = 0;
    while (len < buf.length) {
      const n = readSync(fd, buf, len, buf.length - len, null);
      if (n <= 0) break;
      len += n;
    }
    if (len > max) return null;
    return buf.subarray(0, len).toString('utf8');
  } catch {
    return null;
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

export class ContainerUsers {
  private readonly cache = new Map<string, { users: Map<number, string>; atMs: number }>();
  readonly counters = { reads: 0, unreadable: 0 };

  constructor(
    private readonly procRoot: string,
    private readonly now: () => number,
  ) {}

  /** `key`: the process's mount namespace (or anything that identifies its root) */
  nameOf(pid: number, uid: number | null, key: string): string | null {
    if (uid === null) return null;
    let e = this.cache.get(key);
    if (!e || this.now() - e.atMs > CONTAINER_PASSWD_TTL_MS) {
      this.counters.reads++;
      const text = readBoundedRegularFile(`${this.procRoot}/${pid}/root/etc/passwd`, MAX_CONTAINER_PASSWD_BYTES);
      if (text === null) {
        // not cached: the process may just have exited (its root is gone); the next one of the
        // same container can still read it
        this.counters.unreadable++;
        return null;
      }
      e = { users: parsePasswd(text), atMs: this.now() };
      this.cache.delete(key);
      this.cache.set(key, e);
      while (this.cache.size > MAX_CONTAINER_PASSWD_CACHE) this.cache.delete(this.cache.keys().next().value as string);
    }
    return e.users.get(uid) ?? null;
  }
}
