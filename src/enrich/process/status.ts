/** Pure parsers for /proc/PID/status and /proc/PID/stat. */

export interface ProcStatus {
  name: string | null;
  ppid: number | null;
  /** real uid (first field of "Uid:") */
  uid: number | null;
  /** thread group id (== pid for a process) */
  tgid: number | null;
  /** true for kernel threads ("Kthread: 1" on newer kernels; else no VmSize and ppid 2 / pid 2) */
  kthread: boolean;
}

export function parseStatus(text: string): ProcStatus {
  const out: ProcStatus = { name: null, ppid: null, uid: null, tgid: null, kthread: false };
  let sawVm = false;
  let kthreadField: boolean | null = null;
  for (const line of text.split('\n')) {
    const c = line.indexOf(':');
    if (c < 0) continue;
    const key = line.slice(0, c);
    const val = line.slice(c + 1).trim();
    switch (key) {
      case 'Name':
        out.name = line.slice(c + 1).replace(/^\t/, '');
        break;
      case 'PPid':
        out.ppid = toInt(val);
        break;
      case 'Tgid':
        out.tgid = toInt(val);
        break;
      case 'Uid':
        out.uid = toInt(val.split(/\s+/)[0] ?? '');
        break;
      case 'Kthread':
        kthreadField = val === '1';
        break;
      case 'VmSize':
        sawVm = true;
        break;
    }
  }
  out.kthread = kthreadField ?? (!sawVm && (out.ppid === 2 || out.tgid === 2));
  return out;
}

function toInt(s: string): number | null {
  if (!/^\d+$/.test(s)) return null;
  return Number(s);
}

/**
 * Parse /proc/PID/stat: comm (may contain spaces and parentheses), ppid and starttime (field
 * 22, clock ticks since boot) — starttime tells a reused pid from the process that had it.
 */
export function parseStat(text: string): { comm: string; ppid: number; startTime: number } | null {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  const rest = text.slice(close + 2).split(' ');
  // rest[0] = state (field 3), rest[1] = ppid (4), rest[19] = starttime (22)
  const ppid = Number(rest[1]);
  const startTime = Number(rest[19]);
  if (!Number.isInteger(ppid) || !Number.isInteger(startTime)) return null;
  return { comm: text.slice(open + 1, close), ppid, startTime };
}

/** /etc/passwd text → uid → user name (first entry wins, as getpwuid does). */
export function parsePasswd(text: string): Map<number, string> {
  const m = new Map<number, string>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const f = line.split(':');
    if (f.length < 3) continue;
    const uid = Number(f[2]);
    if (!Number.isInteger(uid) || m.has(uid)) continue;
    m.set(uid, f[0]!);
  }
  return m;
}
