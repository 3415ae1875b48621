import type { Readiness, SoftwareFinding } from './readiness.js';
import { gapText, hostRows, overflowText, reasonsText, someOf, unknownHosts, unwatchedLines, windowText } from './readiness-format.js';
import { bootsText } from './unwatched.js';
import { enforceLineText } from './enforce-lines.js';
import { nextStepLines } from './next-step.js';
import { jobLines } from './job-finding.js';
import { html, visible } from '../text/sanitize.js';

/**
 * One self-contained page (no scripts, no external resources) that reads at 1024 px
 * without horizontal scrolling: findings are cards, tables have a fixed layout and
 * wrap long words, the chart is an SVG scaled to the page with axes and labels.
 */
/** every text goes through the one sanitizer (docs/design.md#sanitizer): controls visible, entities, cut and marked */
const esc = (s: string, max = 2000) => html(s, max);
/** a name (program, unit, container, host), a command or script, a path */
const NAME = 300;
const CMD = 500;
const PATH = 200;

/** bars at most: longer spans merge neighbouring buckets */
const MAX_BARS = 240;
const STEP_MS = { hour: 3_600_000, minute: 60_000 } as const;

interface Bar {
  start: number;
  v1: number;
  other: number;
}

function bars(r: Readiness): { bars: Bar[]; per: string; stepMs: number } {
  const step = STEP_MS[r.timelineStep];
  if (!r.timeline.length) return { bars: [], per: r.timelineStep, stepMs: step };
  const t0 = Date.parse(r.timeline[0].hour);
  const t1 = Date.parse(r.timeline[r.timeline.length - 1].hour);
  const buckets = Math.floor((t1 - t0) / step) + 1;
  const merge = Math.max(1, Math.ceil(buckets / MAX_BARS));
  const out: Bar[] = [];
  for (let i = 0; i < Math.ceil(buckets / merge); i++) out.push({ start: t0 + i * merge * step, v1: 0, other: 0 });
  for (const t of r.timeline) {
    const b = out[Math.floor((Date.parse(t.hour) - t0) / step / merge)];
    if (!b) continue;
    b.v1 += t.v1;
    b.other += t.v2 + t.token;
  }
  const unit = r.timelineStep === 'minute' ? 'min' : 'h';
  return { bars: out, per: merge === 1 ? unit : `${merge} ${unit}`, stepMs: step * merge };
}

const label = (ms: number, step: 'hour' | 'minute') => {
  const iso = new Date(ms).toISOString();
  return step === 'minute' ? iso.slice(11, 16) : `${iso.slice(5, 10)} ${iso.slice(11, 13)}h`;
};

function chart(r: Readiness): string {
  const { bars: bs, per } = bars(r);
  if (!bs.length) return '<p>No IMDS call in this window.</p>';
  const W = 900;
  const H = 260;
  const L = 56;
  const R = 16;
  const T = 24;
  const B = 44;
  const max = Math.max(1, ...bs.map((b) => b.v1 + b.other));
  const bw = (W - L - R) / bs.length;
  const y = (v: number) => H - B - ((H - T - B) * v) / max;
  const rects = bs
    .map((b, i) => {
      const x = (L + i * bw).toFixed(1);
      const w = Math.max(bw - 1, 0.5).toFixed(1);
      const when = esc(new Date(b.start).toISOString());
      return (
        (b.other ? `<rect x="${x}" y="${y(b.v1 + b.other).toFixed(1)}" width="${w}" height="${(y(b.v1) - y(b.v1 + b.other)).toFixed(1)}" fill="#4a90d9"><title>${when}: IMDSv2 + token ${b.other}</title></rect>` : '') +
        (b.v1 ? `<rect x="${x}" y="${y(b.v1).toFixed(1)}" width="${w}" height="${(H - B - y(b.v1)).toFixed(1)}" fill="#d9534f"><title>${when}: IMDSv1 ${b.v1}</title></rect>` : '')
      );
    })
    .join('');
  const yTicks = [0, Math.round(max / 2), max]
    .filter((v, i, a) => a.indexOf(v) === i)
    .map((v) => `<line x1="${L - 4}" y1="${y(v).toFixed(1)}" x2="${W - R}" y2="${y(v).toFixed(1)}" stroke="#ddd"/><text x="${L - 8}" y="${(y(v) + 4).toFixed(1)}" font-size="12" text-anchor="end">${v}</text>`)
    .join('');
  const nx = Math.min(6, bs.length);
  const xTicks = Array.from({ length: nx }, (_, k) => Math.round((k * (bs.length - 1)) / Math.max(nx - 1, 1)))
    .filter((v, i, a) => a.indexOf(v) === i)
    .map((i, k, all) => {
      const x = L + i * bw + bw / 2;
      // the first and last labels stay inside the chart
      const anchor = all.length > 1 && k === 0 ? 'start' : all.length > 1 && k === all.length - 1 ? 'end' : 'middle';
      const tx = anchor === 'start' ? Math.max(x - bw / 2, 2) : anchor === 'end' ? Math.min(x + bw / 2, W - 2) : x;
      return `<line x1="${x.toFixed(1)}" y1="${H - B}" x2="${x.toFixed(1)}" y2="${H - B + 5}" stroke="#666"/><text class="x-label" x="${tx.toFixed(1)}" y="${H - B + 18}" font-size="12" text-anchor="${anchor}">${esc(label(bs[i].start, r.timelineStep))}</text>`;
    })
    .join('');
  return `<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" role="img" aria-label="IMDS calls per ${esc(per)}">
<line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="#666"/><line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="#666"/>${yTicks}${rects}${xTicks}
<text x="${L}" y="14" font-size="12">calls per ${esc(per)} (UTC) — <tspan fill="#d9534f">■ IMDSv1</tspan> <tspan fill="#4a90d9">■ IMDSv2 + token</tspan></text>
<text x="${(L + W - R) / 2}" y="${H - 6}" font-size="12" text-anchor="middle">time (UTC)</text></svg>`;
}

const list = (xs: string[]) => (xs.length ? `<ul>${xs.map((x) => `<li><code>${esc(x, CMD)}</code></li>`).join('')}</ul>` : '-');

function card(f: SoftwareFinding, i: number, multi: boolean): string {
  const cls = f.brokenNow ? 'finding broken' : f.v1Rejected ? 'finding was-rejected' : 'finding';
  const badge = f.brokenNow ? `<span class="badge">REJECTED ×${f.v1Rejected} — broken now</span>` : f.v1Rejected ? `<span class="badge old">rejected ×${f.v1Rejected} earlier</span>` : '';
  const row = (k: string, v: string) => `<tr><th>${k}</th><td>${v}</td></tr>`;
  const where = f.container ? ` <small>[container ${esc(f.container, NAME)}]</small>` : f.unit ? ` <small>[${esc(f.unit, NAME)}]</small>` : '';
  return `<section class="${cls}"><h3>${i + 1}. <code>${esc(f.software, NAME)}</code>${where} ${badge}</h3>
<table class="kv">${[
    row('IMDSv1 calls', `${f.v1}; first ${esc(f.firstSeen, 40)}, last ${esc(f.lastSeen, 40)}`),
    f.overflow ? row('programs', esc(overflowText(f.overflow, (x) => x.slice(0, PATH)))) : '',
    f.container ? row('container', `<code>${esc(f.container, NAME)}</code>`) : '',
    ...jobLines(f.job).map(([k, v]) => row(esc(k), `<code>${esc(v, CMD)}</code>`)),
    f.scripts.length ? row('script', list(f.scripts)) : '',
    f.commands.length ? row('command', list(f.commands)) : '',
    f.users.length ? row('users', esc(f.users.join(', '), CMD)) : '',
    f.origins.length && !f.job ? row('from', f.origins.map((o) => esc(o, CMD)).join('; ')) : '',
    f.sdk ? row('SDK', esc(f.sdk, NAME)) : '',
    multi ? row('hosts', `${f.hosts.length}: ${esc(someOf(f.hosts.map((h) => h.slice(0, NAME)), 10))}`) : '',
    f.paths.length ? row('paths', f.paths.map((x) => esc(x, PATH)).join(', ')) : '',
    Object.keys(f.reasons).length ? row('why', esc(reasonsText(f))) : '',
    row('fix', `<strong>${esc(f.fix ?? '-')}</strong>`),
  ].join('')}</table></section>`;
}

/** docs/design.md#next-step */
function nextStepHtml(r: Readiness, multi: boolean): string {
  const lines = nextStepLines(r.nextStep, multi);
  if (!lines.length && !r.nextStep.commands.length) return '';
  return `<h2>Next step</h2>${lines.map((l) => `<p>${esc(l, 3000)}</p>`).join('')}${r.nextStep.commands.length ? `<pre><code>${r.nextStep.commands.map((c) => esc(c, 4000)).join('\n')}</code></pre>` : ''}${r.nextStep.notes.map((n) => `<p><small>${esc(n, 600)}</small></p>`).join('')}`;
}

export function formatReadinessHtml(r: Readiness): string {
  const multi = r.hosts.length > 1;
  const color = r.verdict === 'READY' ? '#2e7d32' : r.verdict === 'NOT READY' ? '#c62828' : '#ef6c00';
  const { header, rows } = hostRows(r, (s) => s);
  const hostTable = `<table class="grid hosts"><thead><tr>${header.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((row) => `<tr class="v-${row[2].replace(' ', '-').toLowerCase()}">${row.map((c) => `<td>${esc(c, NAME)}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
  const loss = r.losses.pcapDrops + r.losses.flowsEvicted + r.losses.unattributed + r.losses.imdsUnread + r.losses.requestGapBytes;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>IMDSv2 readiness: ${esc(r.verdict)}</title>
<style>
*{box-sizing:border-box}
body{font-family:system-ui,sans-serif;margin:0 auto;padding:1em 1.5em;max-width:1400px;color:#222;overflow-wrap:anywhere}
h1.verdict{color:${color}}
code{font-size:13px;overflow-wrap:anywhere;word-break:break-word;white-space:pre-wrap}
table{border-collapse:collapse;width:100%;table-layout:fixed}
td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;font-size:14px;vertical-align:top;overflow-wrap:anywhere;word-break:break-word}
table.kv th{width:9em;background:#f6f6f6}
table.hosts{table-layout:auto}
table.hosts td,table.hosts th{white-space:nowrap;overflow-wrap:normal;word-break:normal}
table.hosts td:first-child{white-space:normal;overflow-wrap:anywhere}
table.kv ul{margin:0;padding-left:1.2em}
.finding{border:1px solid #ccc;border-left:6px solid #ef6c00;border-radius:4px;padding:.2em 1em 1em;margin:1em 0}
.finding.broken{border-left-color:#c62828;background:#fff5f5}
.finding.was-rejected{border-left-color:#ad7a00}
.badge{background:#c62828;color:#fff;border-radius:3px;padding:1px 6px;font-size:13px}
.badge.old{background:#8d6e00}
tr.v-not-ready td:nth-child(3){color:#c62828;font-weight:bold}
tr.v-unknown td:nth-child(3){color:#ef6c00}
tr.v-ready td:nth-child(3){color:#2e7d32}
svg.chart{width:100%;max-width:900px;height:auto;display:block}
.warn{color:#8a4b00}
</style>
</head><body>
<h1 class="verdict">IMDSv2 readiness: ${esc(r.verdict)}</h1>
<ul>${r.why.map((x) => `<li>${esc(x)}</li>`).join('')}</ul>
<p>${multi ? `${r.hosts.length} hosts` : `Host ${esc(r.hosts[0]?.name ?? '-', NAME)}${r.hosts[0]?.instanceId ? ` (${esc(r.hosts[0].instanceId)})` : ''}`}. Observed ${r.observedHours.toFixed(1)} h${r.observedSince ? ` since ${esc(r.observedSince)}` : ''}. IMDSv1 ${r.totals.v1} (rejected ${r.totals.v1Rejected}), IMDSv2 ${r.totals.v2}, token ${r.totals.token}.${r.since ? ` ${esc(windowText(r))}.` : ''}</p>
${nextStepHtml(r, multi)}
<h2>Capture loss and gaps</h2>
${
  loss || r.gaps.length || r.unwatched.length
    ? `<ul class="warn">${r.losses.pcapDrops ? `<li>capture dropped ${r.losses.pcapDrops} packet(s)</li>` : ''}${r.losses.flowsEvicted ? `<li>${r.losses.flowsEvicted} connection(s) evicted from the flow table</li>` : ''}${r.losses.unattributed ? `<li>${r.losses.unattributed} call(s) not attributed to a process</li>` : ''}${r.losses.imdsUnread ? `<li>${r.losses.imdsUnread} IMDS packet(s) could not be read</li>` : ''}${r.losses.requestGapBytes ? `<li>${r.losses.requestGapBytes} byte(s) sent to IMDS not captured</li>` : ''}${r.gaps.map((g) => `<li>gap: ${multi ? `${esc(g.host)}: ` : ''}${esc(gapText(g))}</li>`).join('')}${r.gapsNotListed ? `<li>and ${r.gapsNotListed} more gap(s)</li>` : ''}${unwatchedLines(r, (x, max) => visible(x, max))
        .map((l) => `<li>before imdswatch watched (may have been IMDSv1): ${esc(l, 4000)}</li>`)
        .join('')}</ul>`
    : '<p>None: no packet dropped, no connection evicted, every call attributed, no gap in observation.</p>'
}${bootsText(r.boots) ? `\n<p>${esc(bootsText(r.boots)!)}.</p>` : ''}
<h2>Hosts</h2>
${hostTable}
${unknownHosts(r).length ? `<p>Why UNKNOWN:</p><ul>${unknownHosts(r).map((l) => `<li>${esc(l)}</li>`).join('')}</ul>` : ''}
<h2>Calls over time</h2>
${chart(r)}
<h2>Software to fix</h2>
${r.findings.length ? r.findings.map((f, i) => card(f, i, multi)).join('\n') : '<p>None.</p>'}
${r.enforce?.length ? `<h2>imdswatch enforce</h2>\n<p>HttpTokens=required for one workload at a time; these are not IMDS's own 401s.</p><ul>${r.enforce.map((l) => `<li>${esc(enforceLineText(l, (x, max) => visible(x, max), multi), 8000)}</li>`).join('')}</ul>\n` : ''}<h2>Already on IMDSv2 (nothing to do)</h2>
${r.clean.length ? `<ul>${r.clean.map((f) => `<li><code>${esc(f.software, NAME)}</code>${f.unit ? ` [${esc(f.unit, NAME)}]` : ''}: ${f.v2} call(s), ${f.token} token request(s)</li>`).join('')}</ul>` : '<p>None seen.</p>'}
</body></html>
`;
}
