import type { HostReadiness, Readiness, SoftwareFinding } from './readiness.js';
import { md, printable, visible } from '../text/sanitize.js';
import { table } from '../text/table.js';
import { someOf } from '../text/lists.js';
import { bootsText, makerText } from './unwatched.js';
import { nextStepLines } from './next-step.js';
import { enforceLineText } from './enforce-lines.js';
import { jobLines } from './job-finding.js';


const REASON_TEXT: Record<string, string> = {
  'no-token-attempt': 'never asked for a token',
  'token-put-unanswered': 'token request got no answer (hop limit)',
  'token-put-rejected': 'token request rejected 403 (X-Forwarded-For)',
  'token-put-not-found': 'token request answered 404/405 (not by IMDS)',
  'token-expired': 'token expired, fell back to v1',
  'v2-unsupported-client': 'client version does not support IMDSv2',
  'foreign-cloud-probe': "probe for another cloud's metadata",
};

export function reasonsText(f: SoftwareFinding): string {
  return Object.entries(f.reasons)
    .map(([r, n]) => `${REASON_TEXT[r] ?? visible(r, 40)} ×${n}`)
    .join('; ');
}

export { someOf }; // src/text/lists.ts

export function rejectedText(f: SoftwareFinding): string {
  if (!f.v1Rejected) return '';
  return f.brokenNow ? `, ${f.v1Rejected} REJECTED with 401 (broken now)` : `, ${f.v1Rejected} rejected with 401 earlier (its last call was not rejected)`;
}

export function windowText(r: Readiness): string {
  if (!r.since) return '';
  if (r.windowPrecision === 'hour') return `window: since ${r.since} (from a state file: counted to the hour — the state keeps per-hour counts per program, so the hour holding ${r.since} counts whole)`;
  if (r.windowPrecision === 'minute') return `window: since ${r.since} (from a state file: counted to the minute — the minute holding ${r.since} counts whole)`;
  return `window: since ${r.since} (exact: from events)`;
}

const VERDICT_ORDER = { 'NOT READY': 0, UNKNOWN: 1, READY: 2 } as const;
export const hostsInOrder = (hosts: HostReadiness[]) => [...hosts].sort((a, b) => VERDICT_ORDER[a.verdict] - VERDICT_ORDER[b.verdict] || b.v1 - a.v1 || a.name.localeCompare(b.name));

export function hostRows(r: Readiness, cell: (s: string, max: number) => string): { header: string[]; rows: string[][] } {
  return {
    header: ['host', 'instance', 'verdict', 'observed h', 'since', 'IMDSv1', 'rejected', 'gaps'],
    rows: hostsInOrder(r.hosts).map((h) => [
      cell(h.name, 60),
      cell(h.instanceId ?? '-', 20),
      h.verdict,
      h.observedHours.toFixed(1),
      h.observedSince ? h.observedSince.slice(0, 16).replace('T', ' ') : '-',
      String(h.v1),
      String(h.v1Rejected),
      h.gaps.length ? `${h.gaps.length} (${h.gaps.reduce((n, g) => n + g.hours, 0).toFixed(1)} h)` : '-',
    ]),
  };
}

const MAX_UNKNOWN_LISTED = 20;

/** "host: why" for hosts whose verdict is UNKNOWN (a fleet table shows only the verdict) */
export function unknownHosts(r: Readiness): string[] {
  if (r.hosts.length < 2) return [];
  const unknown = r.hosts.filter((h) => h.verdict === 'UNKNOWN');
  const out = unknown.slice(0, MAX_UNKNOWN_LISTED).map((h) => `${h.name}: ${h.why.join('; ')}`);
  if (unknown.length > MAX_UNKNOWN_LISTED) out.push(`… and ${unknown.length - MAX_UNKNOWN_LISTED} more (see --format json)`);
  return out;
}

/** "12 s", "4.2 min", "3.5 h" */
export function durationText(start: string, end: string): string {
  const ms = Math.max(0, Date.parse(end) - Date.parse(start));
  return ms < 60_000 ? `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s` : ms < 3_600_000 ? `${(ms / 60_000).toFixed(1)} min` : `${(ms / 3_600_000).toFixed(1)} h`;
}

const GAP_WHY: Record<Readiness['gaps'][number]['kind'], string> = {
  'not-running': 'the daemon has not written its state since',
  stopped: 'daemon stopped or host down',
  boot: 'boot: from the kernel\'s start to imdswatch watching',
  restart: 'daemon restart',
};

export function gapText(g: Readiness['gaps'][number]): string {
  const counted = g.accounted ? '; every IMDS connection in it was counted by the early rule' : g.kind === 'boot' || g.kind === 'restart' ? '; not watched: calls in it were not seen' : '';
  const why = g.bootStartUnknown ? "reboot: from the daemon's last record to imdswatch watching (the boot's start is not known)" : GAP_WHY[g.kind];
  return `${g.start} → ${g.end} (${durationText(g.start, g.end)}, ${why}${counted})`;
}

/** IMDS connections made before imdswatch watched, one line per window (docs/design.md#observation-gaps) */
export function unwatchedLines(r: Readiness, cell: (s: string, max: number) => string): string[] {
  const multi = r.hosts.length > 1;
  const out = r.unwatched.map(
    (u) =>
      `${multi ? `${cell(u.host, 60)}: ` : ''}${u.count} connection(s) before the ${u.kind === 'restart' ? 'restart' : 'boot\'s window'} at ${cell(u.windowStart, 40)} (counted by ${cell(u.source, 40)})` +
      (u.makers.length ? `: ${someOf(u.makers.map((m) => cell(makerText(m), 200)), 10)}` : ': makers not known'),
  );
  if (r.unwatchedNotListed) out.push(`… and ${r.unwatchedNotListed} more`);
  return out;
}

/** what an overflow bucket holds: "e.g. /a, /b (3 displaced from the table)" */
export function overflowText(o: NonNullable<SoftwareFinding['overflow']>, cell: (s: string) => string): string {
  return `kept only as counts, e.g. ${o.examples.map(cell).join(', ') || '-'}${o.displaced ? ` (${o.displaced} displaced from the table)` : ''}`;
}

/** "  [unit]", or "  [container web]" (a container's scope unit names only its id) */
function where(f: SoftwareFinding): string {
  if (f.container) return `  [container ${printable(f.container, 80)}]`;
  return f.unit ? `  [${printable(f.unit, 80)}]` : '';
}

/** One finding as text lines: what, where, when, what to edit, why and the fix. `scan` and `replay` print the same. */
export function findingLines(f: SoftwareFinding, i: number, multi: boolean): string[] {
  const out: string[] = [];
  out.push(`${String(i + 1).padStart(3)}. ${printable(f.software, 100)}${where(f)}`);
  out.push(`     ${f.v1} IMDSv1 call(s)${rejectedText(f)}; first ${printable(f.firstSeen, 40)}, last ${printable(f.lastSeen, 40)}`);
  if (multi) out.push(`     hosts (${f.hosts.length}): ${someOf(f.hosts.map((h) => printable(h, 60)), 3)}`);
  if (f.overflow) out.push(`     programs: ${overflowText(f.overflow, (x) => printable(x, 80))}`);
  // the cron line, timer or person's programs (docs/design.md#jobs); they replace the "from" guesses
  for (const [k, v] of jobLines(f.job)) out.push(`     ${`${k}:`.padEnd(8)} ${printable(v, 400)}`);
  for (const s of f.scripts) out.push(`     script:  ${printable(s, 160)}`);
  for (const c of f.commands) out.push(`     command: ${printable(c, 160)}`);
  if (f.users.length) out.push(`     users:   ${printable(f.users.join(', '), 160)}`);
  if (!f.job) for (const o of f.origins) out.push(`     from:    ${printable(o, 160)}`);
  if (f.sdk && f.sdk !== 'unknown') out.push(`     sdk:     ${printable(f.sdk, 60)}`);
  if (f.paths.length) out.push(`     paths:   ${f.paths.map((p) => printable(p, 80)).join(', ')}`);
  if (Object.keys(f.reasons).length) out.push(`     why:     ${reasonsText(f)}`);
  out.push(`     fix:     ${printable(f.fix ?? '-', 400)}`);
  return out;
}

export function formatReadinessText(r: Readiness): string {
  const out: string[] = [];
  const multi = r.hosts.length > 1;
  out.push(`imdswatch readiness report — ${multi ? `${r.hosts.length} hosts` : `host ${printable(r.hosts[0]?.name ?? '-', 80)}${r.hosts[0]?.instanceId ? ` (${printable(r.hosts[0].instanceId, 30)})` : ''}`}`);
  if (r.since) out.push(windowText(r));
  out.push(`observed ${r.observedHours.toFixed(1)} h${r.observedSince ? ` since ${r.observedSince}` : ''}${multi ? ' (the least-observed host)' : ''}; IMDSv1 ${r.totals.v1}, IMDSv2 ${r.totals.v2}, token ${r.totals.token}`);
  const boots = bootsText(r.boots);
  if (boots) out.push(boots);
  out.push('');
  if (multi) {
    const { header, rows } = hostRows(r, printable);
    out.push('Hosts (NOT READY first):');
    out.push(...table(header, rows).map((l) => `  ${l}`));
    const unknown = unknownHosts(r);
    if (unknown.length) {
      out.push('  why UNKNOWN:');
      for (const l of unknown) out.push(`    ${printable(l, 190)}`);
    }
    out.push('');
  }
  if (r.findings.length) {
    out.push('Software that used IMDSv1 (fix these before requiring IMDSv2):');
    r.findings.forEach((f, i) => out.push(...findingLines(f, i, multi)));
    out.push('');
  }
  if (r.clean.length) {
    out.push(`Already on IMDSv2 (nothing to do): ${r.clean.length} program(s)`);
    for (const f of r.clean.slice(0, 20)) out.push(`  - ${printable(f.software, 100)}${where(f)}: ${f.v2} call(s), ${f.token} token request(s)`);
    if (r.clean.length > 20) out.push(`  … and ${r.clean.length - 20} more (see --format json)`);
    out.push('');
  }
  if (r.unwatched.length) {
    out.push('IMDS connections made before imdswatch watched (they may have been IMDSv1 calls):');
    for (const l of unwatchedLines(r, printable)) out.push(`  - ${l}`);
    out.push('');
  }
  if (r.enforce?.length) {
    out.push('imdswatch enforce (HttpTokens=required for one workload; not IMDS\'s own 401s):');
    for (const l of r.enforce) out.push(`  - ${enforceLineText(l, printable, multi)}`);
    out.push('');
  }
  if (r.gaps.length) {
    out.push('Gaps in observation (calls in them were not seen, unless counted):');
    for (const g of r.gaps) out.push(`  - ${multi ? `${printable(g.host, 60)}: ` : ''}${gapText(g)}`);
    if (r.gapsNotListed) out.push(`  … and ${r.gapsNotListed} more`);
    out.push('');
  }
  out.push(`VERDICT: ${r.verdict}`);
  for (const w of r.why) out.push(`  - ${visible(w, 600)}`);
  // docs/design.md#next-step: the command when READY, what blocks it otherwise
  const next = nextStepLines(r.nextStep, multi);
  if (next.length || r.nextStep.commands.length) {
    out.push('');
    out.push('Next step:');
    for (const l of next) out.push(`  ${visible(l, 2000)}`);
    for (const c of r.nextStep.commands) out.push(...c.split('\n').map((l, i) => `  ${i ? '  ' : '$ '}${l}`));
    for (const n of r.nextStep.notes) out.push(`  (${visible(n, 600)})`);
  }
  return `${out.join('\n')}\n`;
}

const mdList = (xs: string[], max: number) => (xs.length ? xs.map((x) => md(x, max)).join('<br>') : '-');

export function formatReadinessMarkdown(r: Readiness): string {
  const out: string[] = [];
  const multi = r.hosts.length > 1;
  out.push(`# IMDSv2 readiness: ${r.verdict}`);
  out.push('');
  for (const w of r.why) out.push(`- ${md(w, 600)}`);
  out.push('');
  if (r.since) out.push(`${md(windowText(r))}  `);
  out.push(`Hosts: ${multi ? r.hosts.length : md(r.hosts[0]?.name ?? '-', 200)}${!multi && r.hosts[0]?.instanceId ? ` (${md(r.hosts[0].instanceId, 40)})` : ''}  `);
  out.push(`Observed: ${r.observedHours.toFixed(1)} h${r.observedSince ? ` since ${r.observedSince}` : ''}  `);
  if (bootsText(r.boots)) out.push(`Boots: ${md(bootsText(r.boots)!)}  `);
  out.push(`Calls: IMDSv1 ${r.totals.v1} (rejected ${r.totals.v1Rejected}), IMDSv2 ${r.totals.v2}, token ${r.totals.token}`);
  out.push('');
  if (multi) {
    const { header, rows } = hostRows(r, (s, max) => md(s, max));
    out.push('## Hosts');
    out.push('');
    out.push(`| ${header.join(' | ')} |`);
    out.push(`|${header.map(() => '---').join('|')}|`);
    for (const row of rows) out.push(`| ${row.join(' | ')} |`);
    out.push('');
    for (const l of unknownHosts(r)) out.push(`- UNKNOWN ${md(l, 400)}`);
    if (unknownHosts(r).length) out.push('');
  }
  const next = nextStepLines(r.nextStep, multi);
  if (next.length || r.nextStep.commands.length) {
    out.push('## Next step');
    out.push('');
    for (const l of next) out.push(`- ${md(l, 2000)}`);
    if (r.nextStep.commands.length) out.push('', '```sh', ...r.nextStep.commands, '```');
    for (const n of r.nextStep.notes) out.push('', md(n, 600));
    out.push('');
  }
  if (r.findings.length) {
    out.push('## Software to fix');
    out.push('');
    out.push('| # | software | unit | container | script | command | users | from | SDK | IMDSv1 calls | rejected (401) | hosts | first / last IMDSv1 | why | fix |');
    out.push('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
    r.findings.forEach((f, i) =>
      out.push(
        `| ${i + 1} | ${md(f.software, 300)}${f.overflow ? `<br>${md(overflowText(f.overflow, (x) => x), 600)}` : ''} | ${md(f.unit ?? '-', 200)} | ${md(f.container ?? '-', 200)} | ${mdList(f.scripts, 300)} | ${mdList(f.commands, 300)} | ${md(f.users.join(', ') || '-', 300)} | ${f.job ? mdList(jobLines(f.job).map(([k, v]) => `${k}: ${v}`), 600) : mdList(f.origins, 300)} | ${md(f.sdk ?? '-', 100)} | ${f.v1} | ${f.v1Rejected}${f.brokenNow ? ' (broken now)' : ''} | ${multi ? md(someOf(f.hosts), 300) : f.hosts.length} | ${md(f.firstSeen, 40)} / ${md(f.lastSeen, 40)} | ${md(reasonsText(f) || '-', 300)} | ${md(f.fix ?? '-', 400)} |`,
      ),
    );
    out.push('');
  }
  if (r.clean.length) {
    out.push('## Software already on IMDSv2');
    out.push('');
    for (const f of r.clean) out.push(`- ${md(f.software, 300)}${f.unit ? ` [${md(f.unit, 200)}]` : ''}: ${f.v2} call(s), ${f.token} token request(s)`);
    out.push('');
  }
  if (r.unwatched.length) {
    out.push('## IMDS connections made before imdswatch watched');
    out.push('');
    out.push('They may have been IMDSv1 calls: the verdict cannot be READY while they are in the window.');
    out.push('');
    for (const l of unwatchedLines(r, (x, max) => md(x, max))) out.push(`- ${l}`);
    out.push('');
  }
  if (r.enforce?.length) {
    out.push('## imdswatch enforce');
    out.push('');
    for (const l of r.enforce) out.push(`- ${enforceLineText(l, md, multi)}`);
    out.push('');
  }
  if (r.gaps.length) {
    out.push('## Gaps in observation');
    out.push('');
    out.push('Calls in a gap were not seen, unless the early rule counted them.');
    out.push('');
    for (const g of r.gaps) out.push(`- ${multi ? `${md(g.host, 200)}: ` : ''}${md(gapText(g))}`);
    if (r.gapsNotListed) out.push(`- … and ${r.gapsNotListed} more`);
    out.push('');
  }
  return `${out.join('\n')}\n`;
}
