import type { Gap, Unwatched } from './observation.js';
import { someOf } from '../text/lists.js';

/**
 * Words for what imdswatch did not watch (docs/design.md#observation-gaps): IMDS connections
 * made before it watched, named with what is known of their makers; gaps by cause; boots.
 */

type Maker = Unwatched['makers'][number];

/** "uid 0, pid 312, /usr/bin/curl [early.service] ×2" (unknown parts left out) */
export function makerText(m: Maker): string {
  const who = [m.uid !== null ? `uid ${m.uid}` : null, m.pid !== null ? `pid ${m.pid}` : null, m.exe].filter((x): x is string => !!x);
  return `${who.join(', ') || 'maker unknown'}${m.unit ? ` [${m.unit}]` : ''}${m.count > 1 ? ` ×${m.count}` : ''}`;
}

/** every listed maker's words, most connections first */
export function makersOf(us: Unwatched[]): string[] {
  return us
    .flatMap((u) => u.makers)
    .sort((a, b) => b.count - a.count)
    .map(makerText);
}

/** one line for the verdict: how many, when, by whom */
export function unwatchedWhy(us: Unwatched[]): string {
  const total = us.reduce((n, u) => n + u.count, 0);
  const named = us.reduce((n, u) => n + u.makers.reduce((k, m) => k + m.count, 0), 0);
  const when = someOf(us.map((u) => `${u.kind === 'restart' ? 'restart' : 'boot'} before ${u.windowStart}`), 3);
  const makers = makersOf(us);
  return (
    `${total} IMDS connection(s) were made before imdswatch watched (${when}): they may have been IMDSv1 calls` +
    (makers.length ? `; made by ${someOf(makers, 5)}${named < total ? ` and ${total - named} more not named` : ''}` : '; their makers are not known') +
    ` (counted by ${someOf([...new Set(us.map((u) => u.source))], 3)})`
  );
}

const KIND_TEXT: Record<Gap['kind'], string> = {
  boot: 'boot(s) not watched from their start',
  restart: 'daemon restart(s)',
  stopped: 'time(s) the daemon was stopped or the host down',
  'not-running': 'time since the daemon last wrote its state',
};

/** "3 gap(s) in observation (0.1 h unobserved: 2 boot(s) not watched from their start, 1 daemon restart(s)): calls may have been missed" */
export function gapsWhy(gaps: Gap[]): string {
  const by = new Map<Gap['kind'], number>();
  for (const g of gaps) by.set(g.kind, (by.get(g.kind) ?? 0) + 1);
  const kinds = [...by.entries()].map(([k, n]) => `${n} ${KIND_TEXT[k]}`).join(', ');
  return `${gaps.length} gap(s) in observation (${gaps.reduce((n, g) => n + g.hours, 0).toFixed(1)} h unobserved: ${kinds}): calls may have been missed`;
}

/** "3 of 4 boots watched from their start" (null when no boot began in the window) */
export function bootsText(b: { total: number; watchedFromStart: number }): string | null {
  if (!b.total) return null;
  return `${b.watchedFromStart} of ${b.total} boot(s) watched from their start${b.watchedFromStart < b.total ? ' (in the others, IMDS calls made before imdswatch started were not seen)' : ''}`;
}
