import type { HostReadiness, Readiness, SoftwareFinding } from './readiness.js';
import { printable } from '../sinks/capture-summary-text.js';

export { formatReadinessHtml } from './readiness-html.js';

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
    .map(([r, n]) => `${REASON_TEXT[r] ?? r} ×${n}`)
    .join('; ');
}

/** at most `n` names, then "and N more" (500 hosts must not make one 7 000-character line) */
export function someOf(names: string[], n = 5): string {
  return names.length <= n ? names.join(', ') : `${names.slice(0, n).join(', ')} and ${names.length - n} more`;
}

export function rejectedText(f: SoftwareFinding): string {
  if (!f.v1Rejected) return '';
  return f.brokenNow ? `, ${f.v1Rejected} REJECTED with 401 (broken now)` : `, ${f.v1Rejected} rejected with 401 earlier (its last call was not rejected)`;
}

export function windowText(r: Readiness): string {
  if (!r.since) return '';
  return r.windowPrecision === 'hour'
    ? `window: since ${r.since} (from a state file: counted to the hour — the state keeps per-hour counts per program, so the hour holding ${r.since} counts whole)`
    : `window: since ${r.since} (exact: from events)`;
}

const VERDICT_ORDER = { 'NOT READY': 0, UNKNOWN: 1, READY: 2 } as const;
export const hostsInOrder = (hosts: HostReadiness[]) => [...hosts].sort((a, b) => VERDICT_ORDER[a.verdict] - VERDICT_ORDER[b.verdict] || b.v1 - a.v1 || a.name.localeCompare(b.name));

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
}

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

export function gapText(g: Readiness['gaps'][number]): string {
  return `${g.start} → ${g.end} (${g.hours.toFixed(1)} h${g.kind === 'not-running' ? ', the daemon has not written its state since' : ', daemon stopped or host down'})`;
}

/** "  [unit]", or "  [container web]" (a container's scope unit names only its id) */
function where(f: SoftwareFinding): string {
  if (f.container) return `  [container ${printable(f.container, 80)}]`;
  return f.unit ? `  [${printable(f.unit, 80)}]` : '';
}

/** One finding as text lines: what, where, when, what to edit, why and the fix. `scan` and `replay` print the same (#11). */
export function findingLines(f: SoftwareFinding, i: number, multi: boolean): string[] {
  const out: string[] = [];
  out.push(`${String(i + 1).padStart(3)}. ${printable(f.software, 100)}${where(f)}`);
  out.push(`     ${f.v1} IMDSv1 call(s)${rejectedText(f)}; first ${f.firstSeen}, last ${f.lastSeen}`);
  if (multi) out.push(`     hosts (${f.hosts.length}): ${someOf(f.hosts.map((h) => printable(h, 60)), 3)}`);
  for (const s of f.scripts) out.push(`     script:  ${printable(s, 160)}`);
  for (const c of f.commands) out.push(`     command: ${printable(c, 160)}`);
  if (f.users.length) out.push(`     users:   ${printable(f.users.join(', '), 160)}`);
  for (const o of f.origins) out.push(`     from:    ${printable(o, 160)}`);
  if (f.sdk && f.sdk !== 'unknown') out.push(`     sdk:     ${printable(f.sdk, 60)}`);
  if (f.paths.length) out.push(`     paths:   ${f.paths.map((p) => printable(p, 80)).join(', ')}`);
  if (Object.keys(f.reasons).length) out.push(`     why:     ${reasonsText(f)}`);
  out.push(`     fix:     ${f.fix ?? '-'}`);
  return out;
}

export function formatReadinessText(r: Readiness): string {
  const out: string[] = [];
  const multi = r.hosts.length > 1;
  out.push(`imdswatch readiness report — ${multi ? `${r.hosts.length} hosts` : `host ${printable(r.hosts[0]?.name ?? '-', 80)}${r.hosts[0]?.instanceId ? ` (${printable(r.hosts[0].instanceId, 30)})` : ''}`}`);
  if (r.since) out.push(windowText(r));
  out.push(`observed ${r.observedHours.toFixed(1)} h${r.observedSince ? ` since ${r.observedSince}` : ''}${multi ? ' (the least-observed host)' : ''}; IMDSv1 ${r.totals.v1}, IMDSv2 ${r.totals.v2}, token ${r.totals.token}`);
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
  if (r.gaps.length) {
    out.push('Gaps in observation (calls in them were not seen):');
    for (const g of r.gaps) out.push(`  - ${multi ? `${printable(g.host, 60)}: ` : ''}${gapText(g)}`);
    if (r.gapsNotListed) out.push(`  … and ${r.gapsNotListed} more`);
    out.push('');
  }
  out.push(`VERDICT: ${r.verdict}`);
  for (const w of r.why) out.push(`  - ${w}`);
  return `${out.join('\n')}\n`;
}

/**
 * Markdown cell text: control characters shown as \xNN, Markdown syntax escaped,
 * everything else (×, →, non-ASCII names) kept as it is. Not the terminal escaper:
 * a change ticket is not a terminal (#11). Only untrusted text is cut, at `max`.
 */
export function md(s: string, max = Infinity): string {
  let out = s.replace(/[\\|`*_<>[\]]/g, (c) => `\\${c}`).replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  if (out.length > max) out = `${out.slice(0, max - 1)}…`;
  return out;
}

const mdList = (xs: string[], max: number) => (xs.length ? xs.map((x) => md(x, max)).join('<br>') : '-');

export function formatReadinessMarkdown(r: Readiness): string {
  const out: string[] = [];
  const multi = r.hosts.length > 1;
  out.push(`# IMDSv2 readiness: ${r.verdict}`);
  out.push('');
  for (const w of r.why) out.push(`- ${md(w)}`);
  out.push('');
  if (r.since) out.push(`${md(windowText(r))}  `);
  out.push(`Hosts: ${multi ? r.hosts.length : md(r.hosts[0]?.name ?? '-', 200)}${!multi && r.hosts[0]?.instanceId ? ` (${md(r.hosts[0].instanceId, 40)})` : ''}  `);
  out.push(`Observed: ${r.observedHours.toFixed(1)} h${r.observedSince ? ` since ${r.observedSince}` : ''}  `);
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
  if (r.findings.length) {
    out.push('## Software to fix');
    out.push('');
    out.push('| # | software | unit | container | script | command | users | from | SDK | IMDSv1 calls | rejected (401) | hosts | first / last IMDSv1 | why | fix |');
    out.push('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
    r.findings.forEach((f, i) =>
      out.push(
        `| ${i + 1} | ${md(f.software, 300)} | ${md(f.unit ?? '-', 200)} | ${md(f.container ?? '-', 200)} | ${mdList(f.scripts, 300)} | ${mdList(f.commands, 300)} | ${md(f.users.join(', ') || '-', 300)} | ${mdList(f.origins, 300)} | ${md(f.sdk ?? '-', 100)} | ${f.v1} | ${f.v1Rejected}${f.brokenNow ? ' (broken now)' : ''} | ${multi ? md(someOf(f.hosts), 300) : f.hosts.length} | ${f.firstSeen} / ${f.lastSeen} | ${md(reasonsText(f) || '-')} | ${md(f.fix ?? '-')} |`,
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
  if (r.gaps.length) {
    out.push('## Gaps in observation');
    out.push('');
    for (const g of r.gaps) out.push(`- ${multi ? `${md(g.host, 200)}: ` : ''}${md(gapText(g))}`);
    if (r.gapsNotListed) out.push(`- … and ${r.gapsNotListed} more`);
    out.push('');
  }
  return `${out.join('\n')}\n`;
}
