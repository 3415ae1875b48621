import { statSync } from 'node:fs';
import { readLink } from './proc-fs.js';

/**
 * Is the program a process runs the host's file at the path it shows (docs/design.md#attribution)?
 * /proc/PID/exe reads as the path in the process's own mount namespace: a user who can make
 * one (`unshare -Urm`) can bind-mount any binary over /usr/bin/wget and call IMDS as
 * "/usr/bin/wget". So for a process outside the host's mount namespace (and not in a
 * container, whose paths are its image's), the device and inode of the file it runs
 * (stat of /proc/PID/exe) are compared with the host's file at that path, resolved in
 * init's root (/proc/1/root, also right when imdswatch runs in a pod with hostPID; where
 * pid 1 cannot be read, as in some sandboxes, imdswatch's own root and mount namespace). A
 * process in a namespace of its own that runs the host's file (systemd's ProtectSystem and
 * PrivateTmp make one for many services) has the same device and inode: no mismatch.
 */
export type ExeMismatch = 'other-file' | 'no-host-file';

export const MISMATCH_SUFFIX = " (not the host's file)";

export function exeMismatch(procRoot: string, exe: string | null, read: PreRead): ExeMismatch | null {
  if (!exe || !exe.startsWith('/')) return null;
  const host = hostView(procRoot);
  if (!read.nsMnt || !host.mnt || read.nsMnt === host.mnt) return null;
  const running = devInoOf(read.exeDevIno);
  if (!running) return null;
  const there = typeof read.hostDevIno === 'string' ? devInoOf(read.hostDevIno) : statOf(`${host.root}${exe}`);
  if (!there) return 'no-host-file';
  return there.dev === running.dev && there.ino === running.ino ? null : 'other-file';
}

/**
 * ns/mnt, the running file's and the host file's "dev:ino", as read with the process's other
 * files (proc-read.ts: the addon's one call or the same reads from JS, docs/design.md#hold-read;
 * the two "dev:ino" only when ns/mnt is not the host's)
 */
export interface PreRead {
  nsMnt: string | null;
  exeDevIno: string | null;
  /** the host's file at the exe's path: "dev:ino", "" when there is none, null when not read */
  hostDevIno?: string | null;
}

function devInoOf(text: string | null): { dev: number; ino: number } | null {
  const at = text ? text.indexOf(':') : -1;
  return at > 0 ? { dev: Number(text!.slice(0, at)), ino: Number(text!.slice(at + 1)) } : null;
}

/** the host's mount namespace and root: init's, else (pid 1 not readable) imdswatch's own */
const views = new Map<string, { mnt: string | null; root: string }>();

export function hostView(procRoot: string): { mnt: string | null; root: string } {
  let v = views.get(procRoot);
  if (!v) {
    const init = readLink(`${procRoot}/1/ns/mnt`);
    v = init && statOf(`${procRoot}/1/root/`) ? { mnt: init, root: `${procRoot}/1/root` } : { mnt: readLink(`${procRoot}/self/ns/mnt`), root: '' };
    views.set(procRoot, v);
  }
  return v;
}

function statOf(path: string): { dev: number; ino: number } | null {
  try {
    const s = statSync(path);
    return { dev: s.dev, ino: s.ino };
  } catch {
    return null;
  }
}

/** a process found to be in a container after all (behind a rootless network proxy): its paths are its image's */
export function inContainer<T extends { exe: string | null; exeMismatch?: ExeMismatch }>(info: T): T {
  if (!info.exeMismatch) return info;
  const { exeMismatch: _drop, ...rest } = info;
  const exe = info.exe?.endsWith(MISMATCH_SUFFIX) ? info.exe.slice(0, -MISMATCH_SUFFIX.length) : info.exe;
  return { ...rest, exe } as T;
}
