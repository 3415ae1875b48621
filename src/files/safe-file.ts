import { randomBytes } from 'node:crypto';
import { closeSync, constants, fchmodSync, fstatSync, fsyncSync, lstatSync, mkdirSync, openSync, readFileSync, readlinkSync, renameSync, unlinkSync, writeSync, type Stats } from 'node:fs';
import { open as openAsync, rename as renameAsync, unlink as unlinkAsync, type FileHandle } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { ImdswatchError } from '../errors/catalogue.js';

/**
 * The files the daemon writes as root (or as the imdswatch user), opened so that another
 * local user cannot turn a write against a file of root's (docs/design.md#security):
 *
 * - the directory is refused (E_UNSAFE_PATH, one line) when another user could change what
 *   it holds: every directory on the way, symlinks followed, must belong to root or to the
 *   daemon's own user and be writable by no one else — except a sticky directory owned by
 *   root (/tmp), where others may add names but never replace ours. A group-writable
 *   directory counts as writable by others when its group is a user's group (gid ≥ 1000);
 *   a system group's (Ubuntu's /var/log is root:syslog 0775) is trusted, like root.
 * - the last component is never followed (O_NOFOLLOW) and never blocks (O_NONBLOCK: a FIFO
 *   planted in its place is refused, not waited on); it must be a regular file, and in a
 *   shared (sticky) directory one of ours with a single link.
 * - temporary files get a random name and O_EXCL in the same directory, then rename().
 */
export class UnsafePathError extends ImdswatchError<'E_UNSAFE_PATH'> {
  constructor(
    readonly path: string,
    why: string,
  ) {
    super('E_UNSAFE_PATH', `refusing ${path}: ${why}; use a directory only root or the daemon's user can write (e.g. /var/lib/imdswatch), and the real path, not a symlink`);
    this.name = 'UnsafePathError';
  }
}

/** groups from this gid up are users' groups (login.defs GID_MIN on Debian, Ubuntu, RHEL) */
export const USER_GID_MIN = 1000;
const MAX_SYMLINKS = 40;
const { O_WRONLY, O_RDONLY, O_APPEND, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK } = constants;

export interface Identity {
  uid: number;
  gid: number;
}
const self = (): Identity => ({ uid: process.geteuid?.() ?? 0, gid: process.getegid?.() ?? 0 });

/** a directory checked with checkDirectory: its path with every symlink resolved, and whether others may add names to it (sticky) */
export interface CheckedDirectory {
  path: string;
  shared: boolean;
}

/** why another user could change what this directory holds, or null; `shared`: others may add names (sticky, root's) */
export function directoryRisk(st: Stats, id: Identity = self()): { risk: string | null; shared: boolean } {
  if (st.uid !== 0 && st.uid !== id.uid) return { risk: `it belongs to uid ${st.uid}`, shared: false };
  const byAll = (st.mode & 0o002) !== 0;
  const byGroup = (st.mode & 0o020) !== 0 && st.gid !== 0 && st.gid !== id.gid && st.gid >= USER_GID_MIN;
  if (!byAll && !byGroup) return { risk: null, shared: false };
  if ((st.mode & 0o1000) !== 0 && st.uid === 0) return { risk: null, shared: true };
  return { risk: byAll ? 'every user can write it' : `group ${st.gid} can write it`, shared: false };
}

/**
 * Check every directory from / to `dir` (symlinks followed, each owned by root or us);
 * throws UnsafePathError, or the lstat error (ENOENT) of a missing component.
 */
export function checkDirectory(dir: string, id: Identity = self()): CheckedDirectory {
  const given = resolve(dir);
  let todo = given.split('/').filter(Boolean);
  let cur = '/';
  let shared = false;
  const check = (path: string, st: Stats): void => {
    if (!st.isDirectory()) throw new UnsafePathError(given, `${path} is not a directory`);
    const r = directoryRisk(st, id);
    if (r.risk) throw new UnsafePathError(given, `${path}: ${r.risk}`);
    shared = r.shared;
  };
  check('/', lstatSync('/'));
  let links = 0;
  while (todo.length > 0) {
    const name = todo.shift()!;
    if (name === '.') continue;
    if (name === '..') {
      cur = dirname(cur);
      continue;
    }
    const next = join(cur, name);
    const st = lstatSync(next);
    if (st.isSymbolicLink()) {
      // its directory is checked already; whoever owns the link could point it elsewhere
      if (st.uid !== 0 && st.uid !== id.uid) throw new UnsafePathError(given, `${next} is a symlink of uid ${st.uid}`);
      if (++links > MAX_SYMLINKS) throw new UnsafePathError(given, 'too many symlinks');
      const target = readlinkSync(next);
      todo = [...target.split('/').filter(Boolean), ...todo];
      if (isAbsolute(target)) {
        cur = '/';
        check('/', lstatSync('/'));
      }
      continue;
    }
    check(next, st);
    cur = next;
  }
  return { path: cur, shared };
}

/** checkDirectory, creating the directory (mode 0700) when it is missing */
export function prepareDirectory(dir: string, id: Identity = self()): CheckedDirectory {
  try {
    return checkDirectory(dir, id);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  // one level at a time (Node's recursive mkdir loops forever where a parent exists but no child can be made, as in /proc)
  const missing: string[] = [];
  for (let d = resolve(dir); ; d = dirname(d)) {
    try {
      lstatSync(d);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || d === '/') throw err;
      missing.unshift(d);
    }
  }
  for (const d of missing) {
    try {
      mkdirSync(d, { mode: 0o700 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  return checkDirectory(dir, id);
}

/** the file's path inside its checked directory (symlinks of the directory resolved) */
export function checkedPath(path: string, id: Identity = self()): { dir: CheckedDirectory; path: string } {
  const dir = prepareDirectory(dirname(path), id);
  return { dir, path: join(dir.path, basename(path)) };
}

function verifyOpened(fd: number, path: string, dir: CheckedDirectory, id: Identity): Stats {
  const st = fstatSync(fd);
  let why: string | null = null;
  if (!st.isFile()) why = 'it is not a regular file';
  else if (dir.shared && (st.uid !== id.uid || st.nlink !== 1)) why = st.uid !== id.uid ? `it belongs to uid ${st.uid} in a shared directory` : 'it has other hard links in a shared directory';
  if (why) {
    closeSync(fd);
    throw new UnsafePathError(path, why);
  }
  return st;
}

function isSymlink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

/** ELOOP from O_NOFOLLOW is a planted symlink: say so in the refusal */
function openNoFollow(path: string, flags: number, mode?: number): number {
  try {
    return openSync(path, flags | O_NOFOLLOW | O_NONBLOCK, mode);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // O_CREAT on someone else's symlink in a sticky directory fails EACCES, not ELOOP
    if (code === 'ELOOP' || ((code === 'EACCES' || code === 'EPERM') && isSymlink(path))) throw new UnsafePathError(path, 'it is a symlink');
    if (code === 'ENXIO') throw new UnsafePathError(path, 'it is not a regular file');
    throw err;
  }
}

/** open for appending (created 0600), never through a symlink; mode 0600 set on the open file; returns the fd and the size */
export function openAppend(path: string, id: Identity = self()): { fd: number; size: number } {
  const c = checkedPath(path, id);
  const fd = openNoFollow(c.path, O_WRONLY | O_APPEND | O_CREAT, 0o600);
  const st = verifyOpened(fd, path, c.dir, id);
  try {
    if ((st.mode & 0o777) !== 0o600) fchmodSync(fd, 0o600);
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  return { fd, size: st.size };
}

/** the whole file as text, never through a symlink; throws the open error (ENOENT) as it is */
export function readNoFollow(path: string): string {
  const fd = openNoFollow(path, O_RDONLY);
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new UnsafePathError(path, 'it is not a regular file');
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

/**
 * Replace `path` with `data` atomically: a temporary file with a random name, created with
 * O_EXCL|O_NOFOLLOW (mode 0600) in the same checked directory, written, fsynced, renamed.
 */
export function writeFileAtomic(path: string, data: string | Buffer, id: Identity = self()): void {
  const c = checkedPath(path, id);
  const tmp = `${c.path}.tmp-${randomBytes(8).toString('hex')}`;
  const fd = openNoFollow(tmp, O_WRONLY | O_CREAT | O_EXCL, 0o600);
  let open = true;
  let done = false;
  try {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off);
    fsyncSync(fd);
    open = false;
    closeSync(fd);
    renameSync(tmp, c.path);
    done = true;
  } finally {
    // never close twice: the number may be another file's by then
    if (open) closeSync(fd);
    if (!done) {
      try {
        unlinkSync(tmp);
      } catch {
        /* nothing to remove */
      }
    }
  }
}

/**
 * writeFileAtomic without blocking the event loop on the write and the fsync: the same
 * checked directory, random O_EXCL|O_NOFOLLOW temporary file (0600), then rename; the pieces
 * are written in order (their concatenation is the file). On any failure the temporary file
 * is removed and `path` is left as it was.
 */
export async function writeFileAtomicAsync(path: string, parts: ReadonlyArray<string | Buffer>, id: Identity = self()): Promise<void> {
  const c = checkedPath(path, id);
  const tmp = `${c.path}.tmp-${randomBytes(8).toString('hex')}`;
  let fh: FileHandle;
  try {
    fh = await openAsync(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NONBLOCK, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw new UnsafePathError(path, 'it is a symlink');
    throw err;
  }
  let done = false;
  try {
    // up to 512 pieces per writev (IOV_MAX is 1024 on Linux); a short write is finished from a copy of the rest
    for (let i = 0; i < parts.length; i += 512) {
      const batch = parts.slice(i, i + 512).map((p) => (typeof p === 'string' ? Buffer.from(p) : p));
      const want = batch.reduce((n, b) => n + b.length, 0);
      const written = (await fh.writev(batch)).bytesWritten;
      if (written === want) continue;
      const rest = Buffer.concat(batch).subarray(written);
      for (let off = 0; off < rest.length; ) off += (await fh.write(rest, off, rest.length - off)).bytesWritten;
    }
    await fh.sync();
    await fh.close();
    await renameAsync(tmp, c.path);
    done = true;
  } finally {
    if (!done) {
      await fh.close().catch(() => undefined);
      await unlinkAsync(tmp).catch(() => undefined);
    }
  }
}

/**
 * At start: refuse (UnsafePathError) the directory of any of these files another user could
 * plant a link in; directories that are missing are created (0700). Other errors (EACCES:
 * not ours to create) are left to the first write, which reports them without stopping capture.
 */
export function assertSafeDirectories(paths: ReadonlyArray<string | null>, id: Identity = self()): void {
  for (const p of paths) {
    if (p === null) continue;
    try {
      prepareDirectory(dirname(p), id);
    } catch (err) {
      if (err instanceof UnsafePathError) throw err;
    }
  }
}
