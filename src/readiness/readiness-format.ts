import type { Readiness, SoftwareFinding } from './readiness.js';
import { printable } from '../sinks/report-text.js';

const REASON_TEXT: Record<string, string> = {
  'no-token-attempt': 'never asked for a token',
  'token-put-unanswered': 'token request got no answer (hop limit)',
  'token-put-rejected': 'token request rejected 403 (X-Forwarded-For)',
  'token-expired': 'token expired, fell back to v1',
  'v2-unsupported-client': 'client version does not support IMDSv2',
  'foreign-cloud-probe': "probe for another cloud's metadata",
};

function reasonsText(f: SoftwareFinding): string {
  return Object.entries(f.reasons)
    .map(([r, n]) => `${REASON_TEXT[r] ?? r} ×${n}`)
    .join('; ');
}

export function formatReadinessText(r: Readiness): string {
  const out: string[] = [];
  out.push(`imdswatch readiness report — ${r.hosts.length === 1 ? `host ${r.hosts[0]}` : `${r.hosts.length} hosts`}`);
  out.push(`observed ${r.observedHours.toFixed(1)} h${r.observedSince ? ` since ${r.observedSince}` : ''}; IMDSv1 ${r.totals.v1}, IMDSv2 ${r.totals.v2}, token ${r.totals.token}`);
  out.push('');
  if (r.findings.length) {
    out.push('Software that used IMDSv1 (fix these before requiring IMDSv2):');
    r.findings.forEach((f, i) => {
      out.push(`${String(i + 1).padStart(3)}. ${printable(f.software, 100)}${f.unit ? `  [${printable(f.unit, 60)}]` : ''}`);
      out.push(`     ${f.v1} IMDSv1 call(s)${f.v1Rejected ? `, ${f.v1Rejected} REJECTED with 401 (broken now)` : ''}; first ${f.firstSeen}, last ${f.lastSeen}${r.hosts.length > 1 ? `; hosts: ${f.hosts.join(', ')}` : ''}`);
      if (f.sdk) out.push(`     sdk: ${printable(f.sdk, 60)}`);
      if (f.paths.length) out.push(`     paths: ${f.paths.map((p) => printable(p, 80)).join(', ')}`);
      if (Object.keys(f.reasons).length) out.push(`     why: ${reasonsText(f)}`);
      out.push(`     fix: ${f.fix}`);
    });
    out.push('');
  }
  out.push(`VERDICT: ${r.verdict}`);
  for (const w of r.why) out.push(`  - ${w}`);
  return `${out.join('\n')}\n`;
}

const md = (s: string) => printable(s, 200).replace(/[|`*_<>[\]]/g, (c) => `\\${c}`);

export function formatReadinessMarkdown(r: Readiness): string {
  const out: string[] = [];
  out.push(`# IMDSv2 readiness: ${r.verdict}`);
  out.push('');
  for (const w of r.why) out.push(`- ${md(w)}`);
  out.push('');
  out.push(`Hosts: ${r.hosts.map(md).join(', ')}  `);
  out.push(`Observed: ${r.observedHours.toFixed(1)} h${r.observedSince ? ` since ${r.observedSince}` : ''}  `);
  out.push(`Calls: IMDSv1 ${r.totals.v1} (rejected ${r.totals.v1Rejected}), IMDSv2 ${r.totals.v2}, token ${r.totals.token}`);
  out.push('');
  if (r.findings.length) {
    out.push('## Software to fix');
    out.push('');
    out.push('| # | software | unit | SDK | IMDSv1 calls | rejected (401) | hosts | last seen | why | fix |');
    out.push('|---|---|---|---|---|---|---|---|---|---|');
    r.findings.forEach((f, i) =>
      out.push(
        `| ${i + 1} | ${md(f.software)} | ${md(f.unit ?? '-')} | ${md(f.sdk ?? '-')} | ${f.v1} | ${f.v1Rejected} | ${f.hosts.length} | ${f.lastSeen} | ${md(reasonsText(f) || '-')} | ${md(f.fix)} |`,
      ),
    );
    out.push('');
  }
  if (r.clean.length) {
    out.push('## Software already on IMDSv2');
    out.push('');
    for (const f of r.clean) out.push(`- ${md(f.software)}: ${f.v2} call(s), ${f.token} token request(s)`);
    out.push('');
  }
  return `${out.join('\n')}\n`;
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** One self-contained page: no scripts, no external resources; an inline SVG timeline. */
export function formatReadinessHtml(r: Readiness): string {
  const w = 900;
  const h = 220;
  const pad = 30;
  const n = Math.max(r.timeline.length, 1);
  const max = Math.max(1, ...r.timeline.map((t) => t.v1 + t.v2 + t.token));
  const bw = (w - 2 * pad) / n;
  const bars = r.timeline
    .map((t, i) => {
      const x = pad + i * bw;
      const hv1 = ((h - 2 * pad) * t.v1) / max;
      const hv2 = ((h - 2 * pad) * (t.v2 + t.token)) / max;
      return (
        `<rect x="${x.toFixed(1)}" y="${(h - pad - hv2 - hv1).toFixed(1)}" width="${Math.max(bw - 1, 1).toFixed(1)}" height="${hv2.toFixed(1)}" fill="#4a90d9"><title>${esc(t.hour)}: IMDSv2 ${t.v2}, token ${t.token}</title></rect>` +
        `<rect x="${x.toFixed(1)}" y="${(h - pad - hv1).toFixed(1)}" width="${Math.max(bw - 1, 1).toFixed(1)}" height="${hv1.toFixed(1)}" fill="#d9534f"><title>${esc(t.hour)}: IMDSv1 ${t.v1}</title></rect>`
      );
    })
    .join('');
  const first = r.timeline[0]?.hour ?? '';
  const last = r.timeline[r.timeline.length - 1]?.hour ?? '';
  const rows = r.findings
    .map(
      (f, i) =>
        `<tr><td>${i + 1}</td><td>${esc(f.software)}</td><td>${esc(f.unit ?? '-')}</td><td>${esc(f.sdk ?? '-')}</td><td>${f.v1}</td><td>${f.v1Rejected}</td><td>${f.hosts.length}</td><td>${esc(f.lastSeen)}</td><td>${esc(reasonsText(f) || '-')}</td><td>${esc(f.fix)}</td></tr>`,
    )
    .join('\n');
  const color = r.verdict === 'READY' ? '#2e7d32' : r.verdict === 'NOT READY' ? '#c62828' : '#ef6c00';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>IMDSv2 readiness: ${esc(r.verdict)}</title>
<style>body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;font-size:14px}.verdict{color:${color}}</style>
</head><body>
<h1 class="verdict">IMDSv2 readiness: ${esc(r.verdict)}</h1>
<ul>${r.why.map((x) => `<li>${esc(x)}</li>`).join('')}</ul>
<p>Hosts: ${esc(r.hosts.join(', '))}. Observed ${r.observedHours.toFixed(1)} h${r.observedSince ? ` since ${esc(r.observedSince)}` : ''}. IMDSv1 ${r.totals.v1} (rejected ${r.totals.v1Rejected}), IMDSv2 ${r.totals.v2}, token ${r.totals.token}.</p>
<h2>Calls per hour</h2>
<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" role="img" aria-label="IMDS calls per hour"><line x1="${pad}" y1="${h - pad}" x2="${w - pad}" y2="${h - pad}" stroke="#888"/>${bars}<text x="${pad}" y="${h - 8}" font-size="11">${esc(first)}</text><text x="${w - pad}" y="${h - 8}" font-size="11" text-anchor="end">${esc(last)}</text><text x="${pad}" y="16" font-size="11">max ${max}/h — red IMDSv1, blue IMDSv2 + token</text></svg>
<h2>Software to fix</h2>
${r.findings.length ? `<table><tr><th>#</th><th>software</th><th>unit</th><th>SDK</th><th>IMDSv1</th><th>rejected</th><th>hosts</th><th>last seen</th><th>why</th><th>fix</th></tr>\n${rows}</table>` : '<p>None.</p>'}
</body></html>
`;
}
