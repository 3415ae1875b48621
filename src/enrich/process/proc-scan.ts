import { createRequire } from 'node:module';
import { findAddonPath } from './sock-diag.js';

/**
 * The socket-owner search over /proc/PID/fd in C (native/sockdiag/src/procscan.c, part of the
 * sock_diag addon). Which process holds socket inode N is only known by reading fd links; from
 * JS each costs an fs binding call, a string and, for an fd closed meanwhile, an exception. In
 * C a link is one readlinkat() on an open fd directory and nothing is allocated per link: a
 * search costs its system calls only. Works on any proc root (the tests' fake trees too).
 */
export interface ProcScan {
  /** numeric entries of `procRoot`, highest first */
  pids(procRoot: string): Int32Array;
  /**
   * the first of `pids[0..count)` holding `socket:[inode]`: `{ index, fd }`; else the number
   * of pids read without a hit (less than `count` when `budgetUs` ran out first)
   */
  findSocket(procRoot: string, pids: Int32Array, count: number, inode: number, budgetUs: number): { index: number; fd: number } | number;
  /**
   * the first i < count where /proc/pids[i]/fd/fds[i] links to `socket:[inode]`, else -1 (one readlink
   * each). On a procfs root the pids' directories are kept open (docs/design.md#owner-dirs) and
   * `gone[i]` is set to 1 for the probes of a pid whose process no longer exists (not read)
   */
  probeFds(procRoot: string, pids: Int32Array, fds: Int32Array, count: number, inode: number, gone?: Int32Array): number;
  /**
   * the kernel's last pid (/proc/loadavg) and, when 0 < from < last <= from + max, each pid in
   * (from, last] whose stat reads, newest first, with its state letter and whether it is a
   * thread's id (exit_signal -1): one call (docs/design.md#hold-read); null: no last pid.
   * Absent on older addon builds.
   */
  newPids?(procRoot: string, from: number, max: number): { last: number; pids: Array<{ pid: number; state: string | null; thread: boolean }> } | null;
}

interface ProcScanAddon {
  newPids?(procRoot: string, from: number, max: number): Int32Array | null;
  pids(procRoot: string): Int32Array;
  findSocket(procRoot: string, pids: Int32Array, count: number, inode: number, budgetUs: number): [number, number] | number;
  probeFds(procRoot: string, pids: Int32Array, fds: Int32Array, count: number, inode: number, gone?: Int32Array): number;
}

/** the addon's scanner; null when it is not built or is an older build without it. IMDSWATCH_PROC_SCAN=0 forces the JS search. */
export function loadProcScan(addonPath: string | null = findAddonPath()): ProcScan | null {
  if (process.env.IMDSWATCH_PROC_SCAN === '0' || process.platform !== 'linux' || !addonPath) return null;
  let addon: Partial<ProcScanAddon>;
  try {
    addon = createRequire(import.meta.url)(addonPath) as Partial<ProcScanAddon>;
  } catch {
    return null;
  }
  const { pids, findSocket, probeFds, newPids } = addon;
  if (typeof pids !== 'function' || typeof findSocket !== 'function' || typeof probeFds !== 'function') return null;
  return {
    pids: (root) => pids(root),
    findSocket(root, list, count, inode, budgetUs) {
      const r = findSocket(root, list, count, inode, Math.max(0, budgetUs));
      return typeof r === 'number' ? r : { index: r[0], fd: r[1] };
    },
    probeFds: (root, list, fds, count, inode, gone) => probeFds(root, list, fds, count, inode, gone),
    ...(typeof newPids === 'function'
      ? {
          newPids(root: string, from: number, max: number) {
            const r = newPids(root, from, max);
            if (!r || r.length === 0) return null;
            const out: Array<{ pid: number; state: string | null; thread: boolean }> = [];
            for (let i = 1; i + 2 < r.length; i += 3) out.push({ pid: r[i]!, state: r[i + 1] ? String.fromCharCode(r[i + 1]!) : null, thread: r[i + 2] === 1 });
            return { last: r[0]!, pids: out };
          },
        }
      : {}),
  };
}
