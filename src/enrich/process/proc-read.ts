import { statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { readLink, readPidFile } from './proc-fs.js';
import { findAddonPath } from './sock-diag.js';

/**
 * A process's /proc files read in one call of the addon (native/sockdiag/src/procscan.c
 * `readProc`, docs/design.md#hold-read): the SYN gate builds a new client's ProcessInfo while
 * the client waits in connect(), and from JS each file is an open, a read and a close through
 * the fs binding (an exception for a file that is gone). In C the files are read through one
 * open directory of /proc/PID (openat, readlinkat) and come back as the same bytes (latin1).
 * Reading through that directory also pins the process: once it has exited every read fails,
 * even if its pid is reused meanwhile.
 */
export const PF = {
  stat: 1 << 0,
  loginuid: 1 << 1,
  /** read only when loginuid is set (not 4294967295) */
  sessionid: 1 << 2,
  exe: 1 << 3,
  cmdline: 1 << 4,
  cgroup: 1 << 5,
  status: 1 << 6,
  nsNet: 1 << 7,
  nsMnt: 1 << 8,
  /** "dev:ino" of the file /proc/PID/exe runs; only when ns/mnt is read and is not the host's */
  exeDevIno: 1 << 9,
  /** "dev:ino" of the host's file at the exe's path (hostRoot + path; "" when there is none); only when exeDevIno was read */
  hostDevIno: 1 << 10,
  /** not a file: the addon keeps /proc/PID open for the owner search's probes (a socket owner; docs/design.md#owner-dirs) */
  keepDir: 1 << 11,
} as const;

const FIELDS = ['stat', 'loginuid', 'sessionid', 'exe', 'cmdline', 'cgroup', 'status', 'nsNet', 'nsMnt', 'exeDevIno', 'hostDevIno'] as const;
export type PidFileName = (typeof FIELDS)[number];
/** what was read: the raw text of each file asked for, null when it could not be read */
export type PidFiles = Partial<Record<PidFileName, string | null>>;

/**
 * reads the files of `mask` (PF bits) of one pid; null: /proc/PID could not be opened (gone).
 * `host`: the host's mount namespace link and root (exe-identity.ts hostView) for exeDevIno and hostDevIno
 */
export type ProcRead = (procRoot: string, pid: number, mask: number, host: { mnt: string | null; root: string } | null) => PidFiles | null;

type ReadProcAddon = (procRoot: string, pid: number, mask: number, hostMnt?: string, hostRoot?: string) => Array<string | null | true> | null;

/** the same reads from JS, one file at a time (no addon, IMDSWATCH_PROC_READ=0, the tests' comparison) */
export const readPidFilesJs: ProcRead = (procRoot, pid, mask, host) => {
  const p = `${procRoot}/${pid}`;
  const out: PidFiles = {};
  if (mask & PF.stat) out.stat = readPidFile(`${p}/stat`);
  if (mask & PF.loginuid) out.loginuid = readPidFile(`${p}/loginuid`);
  if (mask & PF.sessionid) out.sessionid = out.loginuid && !out.loginuid.startsWith('4294967295') ? readPidFile(`${p}/sessionid`) : null;
  if (mask & PF.exe) out.exe = readLink(`${p}/exe`);
  if (mask & PF.cmdline) out.cmdline = readPidFile(`${p}/cmdline`);
  if (mask & PF.cgroup) out.cgroup = readPidFile(`${p}/cgroup`);
  if (mask & PF.status) out.status = readPidFile(`${p}/status`);
  if (mask & PF.nsNet) out.nsNet = readLink(`${p}/ns/net`);
  if (mask & PF.nsMnt) out.nsMnt = readLink(`${p}/ns/mnt`);
  if (mask & PF.exeDevIno) out.exeDevIno = out.nsMnt && host?.mnt && out.nsMnt !== host.mnt ? devIno(`${p}/exe`) : null;
  if (mask & PF.hostDevIno) {
    const exe = out.exe?.endsWith(' (deleted)') ? out.exe.slice(0, -10) : out.exe;
    out.hostDevIno = host && out.exeDevIno && exe?.startsWith('/') ? (devIno(`${host.root}${exe}`) ?? '') : null;
  }
  return out;
};

function devIno(path: string): string | null {
  try {
    const s = statSync(path);
    return `${s.dev}:${s.ino}`;
  } catch {
    return null;
  }
}

/** the addon's readProc; null when it is not built (or an older build). IMDSWATCH_PROC_READ=0 forces the JS reads. */
export function loadProcRead(addonPath: string | null = findAddonPath()): ProcRead | null {
  if (process.env.IMDSWATCH_PROC_READ === '0' || process.platform !== 'linux' || !addonPath) return null;
  let fn: ReadProcAddon | undefined;
  try {
    fn = (createRequire(import.meta.url)(addonPath) as { readProc?: ReadProcAddon }).readProc;
  } catch {
    return null;
  }
  if (typeof fn !== 'function') return null;
  const readProc = fn;
  return (procRoot, pid, mask, host) => {
    const r = host?.mnt ? readProc(procRoot, pid, mask, host.mnt, host.root) : readProc(procRoot, pid, mask);
    if (!r) return null;
    const out: PidFiles = {};
    for (let i = 0; i < FIELDS.length; i++) {
      if (!(mask & (1 << i))) continue;
      const v = r[i];
      // a file that fills the addon's 64 KiB buffer (a long command line) is read to its end here
      out[FIELDS[i]!] = v === true ? readPidFile(`${procRoot}/${pid}/${FIELDS[i]}`) : (v ?? null);
    }
    return out;
  };
}
