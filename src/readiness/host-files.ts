import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HostFile } from './job-files.js';

/**
 * The edge of src/readiness/job-files.ts: this host's cron and timer files, read when
 * `imdswatch report` is about this host (it runs as root; a file it may not read is left
 * out). `root` is "/" on the host, or where an image of it is mounted. Regular files only,
 * each cut at MAX_BYTES, at most MAX_FILES.
 */
const MAX_BYTES = 256 * 1024;
const MAX_FILES = 2_000;

const TIMER_DIRS = ['etc/systemd/system', 'run/systemd/system', 'usr/lib/systemd/system', 'lib/systemd/system'];

export function readHostFiles(root = '/'): HostFile[] {
  const out: HostFile[] = [];
  const seen = new Set<string>();
  const add = (rel: string, kind: HostFile['kind'], user?: string) => {
    if (out.length >= MAX_FILES) return;
    const path = join(root, rel);
    try {
      const st = lstatSync(path);
      if (!st.isFile()) return;
      const text = readFileSync(path, 'utf8').slice(0, MAX_BYTES);
      // a timer in /lib and in /usr/lib (merged /usr) is one timer
      const id = kind === 'timer' ? rel.slice(rel.lastIndexOf('/') + 1) : rel;
      if (seen.has(id)) return;
      seen.add(id);
      out.push({ path: `/${rel}`, text, kind, ...(user ? { user } : {}) });
    } catch {
      /* missing or unreadable: not looked up */
    }
  };
  const list = (rel: string) => {
    try {
      return readdirSync(join(root, rel)).sort();
    } catch {
      return [];
    }
  };
  add('etc/crontab', 'system');
  for (const n of list('etc/cron.d')) if (!n.startsWith('.')) add(`etc/cron.d/${n}`, 'system');
  for (const n of list('var/spool/cron/crontabs')) add(`var/spool/cron/crontabs/${n}`, 'user', n);
  // cronie (RHEL, Amazon Linux): /var/spool/cron/USER
  for (const n of list('var/spool/cron')) if (n !== 'crontabs' && !n.startsWith('.')) add(`var/spool/cron/${n}`, 'user', n);
  add('etc/anacrontab', 'anacron');
  for (const d of TIMER_DIRS) for (const n of list(d)) if (n.endsWith('.timer')) add(`${d}/${n}`, 'timer');
  return out;
}
