import { readPidFile } from './proc-fs.js';
import type { ProcScan } from './proc-scan.js';

/** a pid handed out since the last look: its state letter (/proc/PID/stat field 3) and whether it is a thread's id */
export interface NewPid {
  pid: number;
  state: string | null;
  thread: boolean;
}

/**
 * The kernel's last pid (/proc/loadavg's last field; null when unreadable) and, when
 * 0 < from < last <= from + max, each pid from `last` down to `from + 1` whose stat can be
 * read (docs/design.md#hold-work). Not the highest pid listed: pids wrap, and old processes
 * keep pids above the current ones. With the addon it is one call (docs/design.md#hold-read);
 * without it the same answers from JS.
 */
export function pidsSince(procRoot: string, procScan: ProcScan | null | undefined, from: number | null, max: number): { last: number | null; pids: NewPid[] } {
  const native = procScan?.newPids?.(procRoot, from ?? 0, max);
  if (native !== undefined) return native && Number.isInteger(native.last) && native.last > 0 ? native : { last: null, pids: [] };
  const text = readPidFile(`${procRoot}/loadavg`);
  const n = text ? Number(text.slice(text.lastIndexOf(' ') + 1)) : NaN;
  const last = Number.isInteger(n) && n > 0 ? n : null;
  const pids: NewPid[] = [];
  if (last === null || from === null || from <= 0 || last <= from || last - from > max) return { last, pids };
  for (let pid = last; pid > from; pid--) {
    const st = readPidFile(`${procRoot}/${pid}/stat`);
    if (!st) continue;
    // fields after the comm, which may hold any byte: the last ')' ends it
    const rest = st.slice(st.lastIndexOf(')') + 2).split(' ');
    pids.push({ pid, state: rest[0] ?? null, thread: rest[35] === '-1' });
  }
  return { last, pids };
}
