import { readPidFile } from './proc-fs.js';

/**
 * Candidate order for a search made while a SYN is held (docs/design.md#attribution): the
 * process that sent the SYN is waiting (in connect() or poll(), state S) — it cannot be in
 * the middle of fork() or execve(). A process in execve() holds its exec_update_lock, and on
 * current kernels (6.x) reading /proc/PID/fd/N, /proc/PID/exe or the fd table of that process
 * waits for that lock: measured here, 35–120 ms per process when one user started 16 one-shot
 * clients at a time on 2 loaded cores (the newest pids, read first, were the ones mid-exec).
 * /proc/PID/stat takes no such lock, so it is read first and the waiting pids go ahead of the
 * running (R), blocked (D) and exiting ones. Only new pids are sorted, at most `maxStat` (a
 * stat read costs about as much as an fd table; past them the order is left as it is).
 */
export const MAX_STAT_READS = 48;

/** `pids` (in their order) with the waiting ones first; the others keep their relative order */
export function waitingFirst(procRoot: string, pids: number[], maxStat = MAX_STAT_READS): number[] {
  if (pids.length < 2) return pids;
  const waiting: number[] = [];
  const later: number[] = [];
  const n = Math.min(pids.length, maxStat);
  for (let i = 0; i < n; i++) {
    const pid = pids[i]!;
    (isWaiting(stateOf(procRoot, pid)) ? waiting : later).push(pid);
  }
  if (later.length === 0) return pids;
  for (let i = n; i < pids.length; i++) later.push(pids[i]!);
  return waiting.concat(later);
}

/** S (sleeping, interruptible) and I (idle) wait; R, D, Z, X, T and unknown do not */
export function isWaiting(state: string | null): boolean {
  return state === 'S' || state === 'I';
}

/** field 3 of /proc/PID/stat (after the parenthesised comm, which may hold any byte) */
export function stateOf(procRoot: string, pid: number): string | null {
  const text = readPidFile(`${procRoot}/${pid}/stat`);
  if (!text) return null;
  const close = text.lastIndexOf(')');
  return close > 0 && close + 2 < text.length ? text[close + 2]! : null;
}
