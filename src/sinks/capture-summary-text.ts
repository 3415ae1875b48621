import type { CaptureSummary } from './capture-summary.js';
import type { InputSummary } from './input-summary.js';
import { findingLines } from '../readiness/readiness-format.js';
import { describeUnread } from '../decode/unread-imds.js';
import { printable } from '../text/sanitize.js';
import { table } from '../text/table.js';

export function formatCaptureSummaryText(report: CaptureSummary, input: InputSummary): string {
  const t = report.totals;
  const out: string[] = [];
  out.push(`imdswatch report — ${input.sources.join(', ') || '(no input)'}`);
  out.push(
    `${input.packets} packets read, ${input.imdsSegments} IMDS segments, ${t.requests} IMDS requests` +
      (report.firstSeen ? ` from ${report.firstSeen} to ${report.lastSeen}` : ''),
  );
  out.push('');
  out.push(`IMDSv1 calls:     ${t.v1}${t.v1Rejected ? `  (${t.v1Rejected} rejected with 401: IMDSv2 is already required and this software fails now)` : ''}`);
  out.push(`IMDSv2 calls:     ${t.v2}`);
  out.push(`token requests:   ${t.token}${t.tokenRejected ? `  (${t.tokenRejected} rejected with 403: a proxy added X-Forwarded-For)` : ''}`);
  if (t.unanswered) out.push(`no response seen: ${t.unanswered}`);
  out.push('');
  if (report.groups.length > 0) {
    const hasProcess = report.groups.some((g) => g.exe !== null);
    // Docker/Kubernetes containers get their own column
    const hasContainer = report.groups.some((g) => g.container !== null);
    const header = ['client', ...(hasProcess ? ['process', 'unit'] : []), ...(hasContainer ? ['container'] : []), 'user-agent', 'sdk', 'v1', 'v2', 'token', 'first seen', 'last seen'];
    const rows = report.groups.map((g) => [
      g.client,
      ...(hasProcess ? [printable(g.exe ?? '?', 40), printable(g.container ? '-' : (g.unit ?? '-'), 40)] : []),
      ...(hasContainer ? [printable(g.container ?? '-', 40)] : []),
      printable(g.userAgent ?? '(none)', 60),
      g.sdk ? printable(`${g.sdk.name}${g.sdk.version ? ` ${g.sdk.version}` : ''}`, 30) : '-',
      String(g.v1) + (g.v1Rejected ? ` (${g.v1Rejected}×401)` : ''),
      String(g.v2),
      String(g.token),
      g.firstSeen,
      g.lastSeen,
    ]);
    out.push('By client:');
    out.push(...table(header, rows).map((l) => `  ${l}`));
    if (report.groupsOverflowed) out.push(`  (${report.groupsOverflowed} requests from further groups are merged under "(other)")`);
    out.push('');
  }
  const r = report.readiness;
  if (r.findings.length > 0) {
    // the same findings and fix lines as `imdswatch report`
    out.push('Software that used IMDSv1 (fix these before requiring IMDSv2):');
    r.findings.forEach((f, i) => out.push(...findingLines(f, i, false)));
    out.push('');
  }
  if (report.v1Calls.length > 0) {
    out.push('IMDSv1 calls:');
    // one shape for every row: a call without a pid gets '-' in the process column
    // (leaving the cell out crashed the table when some calls were attributed)
    const hasPid = report.v1Calls.some((c) => c.pid !== null);
    const rows = report.v1Calls.map((c) => [
      c.ts,
      c.client,
      ...(hasPid ? [c.pid !== null ? `${c.pid} ${printable(c.exe ?? '?', 40)}` : '-'] : []),
      printable(c.method, 16),
      printable(c.path, 80),
      c.status === null ? 'no response' : String(c.status),
      c.reason ?? '',
    ]);
    const header = ['time', 'client', ...(hasPid ? ['process'] : []), 'method', 'path', 'status', 'reason'];
    out.push(...table(header, rows).map((l) => `  ${l}`));
    if (report.v1CallsNotListed) out.push(`  … and ${report.v1CallsNotListed} more IMDSv1 calls (see --format ndjson for all)`);
    out.push('');
  }
  const skipped = Object.entries(input.skipped).filter(([, n]) => n > 0);
  if (skipped.length) out.push(`Skipped: ${skipped.map(([k, n]) => `${k} ${n}`).join(', ')}`);
  for (const e of input.errors) out.push(`Error: ${e}`);
  if (input.unclassified > 0)
    out.push(`Warning: ${input.unclassified} IMDS request(s) could not be classified: their headers were cut (snaplen or lost packets), so a token header may be missing. Capture with tcpdump -s 0.`);
  // IMDS traffic that could not be read (fragments, gaps, link types) may hide a call
  const unread = describeUnread(input.unread);
  out.push(
    t.v1 === 0
      ? unread
        ? `Result: UNKNOWN — no IMDSv1 call seen, but IMDS traffic could not be read (${unread}${input.unclassified > 0 ? `; ${input.unclassified} request(s) could not be classified` : ''}): an IMDSv1 call may be hidden there.`
        : input.unclassified > 0
        ? `Result: UNKNOWN — no IMDSv1 call seen, but ${input.unclassified} request(s) could not be classified.`
        : t.requests === 0
        ? 'Result: no IMDS request seen.'
        : 'Result: no IMDSv1 call seen — every request used a session token.'
      : r.verdict === 'NOT READY'
        ? `Result: NOT READY — ${r.why[0]}: not ready for IMDSv2-only (fix lines above).`
        : `Result: ${r.verdict} — ${r.why.join('; ')}`,
  );
  return `${out.join('\n')}\n`;
}
