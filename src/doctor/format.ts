import type { DoctorLine, DoctorStatus } from './checks.js';

const MARK: Record<DoctorStatus, string> = { ok: '✓', fail: '✗', warn: '!', info: '-' };

/**
 * One line per check: mark, id, what was found; for fail and warn, an indented
 * "fix:" line. Ends with a summary line.
 */
export function formatDoctor(lines: DoctorLine[]): string {
  const width = Math.max(...lines.map((l) => l.id.length));
  const out: string[] = [];
  for (const l of lines) {
    out.push(`${MARK[l.status]} ${l.id.padEnd(width)}  ${l.message}`);
    if (l.fix && (l.status === 'fail' || l.status === 'warn')) out.push(`  ${' '.repeat(width)}  fix: ${l.fix}`);
  }
  const fails = lines.filter((l) => l.status === 'fail').length;
  const warns = lines.filter((l) => l.status === 'warn').length;
  out.push(fails === 0 ? `ok${warns ? ` (${warns} warning${warns > 1 ? 's' : ''})` : ''}` : `${fails} problem${fails > 1 ? 's' : ''} to fix${warns ? `, ${warns} warning${warns > 1 ? 's' : ''}` : ''}`);
  return `${out.join('\n')}\n`;
}
