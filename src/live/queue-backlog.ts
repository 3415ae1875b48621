import { readFileSync } from 'node:fs';

/**
 * How many packets of NFQUEUE `queueNum` wait for a verdict right now (docs/design.md#syn-gate):
 * `queue_total`, the third column of /proc/net/netfilter/nfnetlink_queue (the reader's network
 * namespace: the gate's). The overload guard sheds only while SYNs pile up there: a closed
 * group of callers (N one-shot clients at a time, N containers starting at once) never has
 * more than N SYNs waiting, each blocked in connect() until its verdict, so holding all of
 * them fills nothing; a flood does pile up. null when the file cannot be read or has no such
 * queue (then the guard alone decides, as before).
 */
export const NFQUEUE_PROC = '/proc/net/netfilter/nfnetlink_queue';

/** SYNs waiting at which the gate starts to shed (the kernel queue holds 1024) */
export const SHED_BACKLOG = 32;

export function queueBacklog(queueNum: number, path = NFQUEUE_PROC): number | null {
  let text: string;
  try {
    text = readFileSync(path, 'latin1');
  } catch {
    return null;
  }
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length >= 3 && Number(f[0]) === queueNum) {
      const n = Number(f[2]);
      return Number.isInteger(n) ? n : null;
    }
  }
  return null;
}

/** the guard may shed: SYNs pile up in the queue, or the backlog cannot be read */
export function pilingUp(queueNum: number, path = NFQUEUE_PROC): boolean {
  const n = queueBacklog(queueNum, path);
  return n === null || n >= SHED_BACKLOG;
}
