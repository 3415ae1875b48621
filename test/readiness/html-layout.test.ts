import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadReportInput } from '../../src/readiness/inputs.js';
import { computeReadiness } from '../../src/readiness/readiness.js';
import { formatReadinessHtml } from '../../src/readiness/readiness-html.js';
import { emptyState, recordEvent } from '../../src/sinks/state-store.js';
import { webHostLog } from './fixtures/make-web-1.js';
import { ev } from '../helpers/events.js';

/**
 * #11: the HTML report reads at 1024 and 1440 px — no horizontal overflow, chart labels
 * of a readable size, hosts, "already on IMDSv2", capture loss and rejected programs on
 * the page — measured in headless Debian chromium (--dump-dom of the page plus a
 * measuring script added for the test only; the shipped page has no script).
 */
import { CHROMIUM, dumpDom } from '../support/chromium.js';
const NOW = '2026-11-29T12:00:00.000Z';
const work = mkdtempSync(join(tmpdir(), 'imdswatch-html-'));

const MEASURE = `<script>
window.addEventListener('load', () => {
  const vw = document.documentElement.clientWidth;
  const over = [];
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect();
    if (r.width > 0 && r.right > vw + 0.5) over.push(el.tagName.toLowerCase() + ':' + Math.round(r.right));
  }
  const svgText = [...document.querySelectorAll('svg text')];
  const color = (sel) => { const e = document.querySelector(sel); return e ? getComputedStyle(e).borderLeftColor : null; };
  const out = document.createElement('pre');
  out.id = 'layout-result';
  out.textContent = JSON.stringify({
    vw, scrollWidth: document.documentElement.scrollWidth, over: over.slice(0, 10),
    minSvgTextPx: svgText.length ? Math.min(...svgText.map((t) => t.getBoundingClientRect().height)) : null,
    svgRight: document.querySelector('svg') ? document.querySelector('svg').getBoundingClientRect().right : null,
    xLabels: [...document.querySelectorAll('svg text.x-label')].map((t) => t.textContent),
    hostRows: document.querySelectorAll('table.hosts tbody tr').length,
    headings: [...document.querySelectorAll('h2')].map((h) => h.textContent),
    brokenColor: color('.finding.broken'), normalColor: color('.finding:not(.broken):not(.was-rejected)'),
  });
  document.body.appendChild(out);
});
</script>`;

interface Layout {
  vw: number;
  scrollWidth: number;
  over: string[];
  minSvgTextPx: number | null;
  svgRight: number | null;
  xLabels: string[];
  hostRows: number;
  headings: string[];
  brokenColor: string | null;
  normalColor: string | null;
}

async function layout(name: string, html: string, width: number): Promise<Layout> {
  const out = await dumpDom(html.replace('</body>', `${MEASURE}</body>`), { width });
  const m = /<pre id="layout-result">([^<]*)<\/pre>/.exec(out);
  if (!m) throw new Error(`chromium gave no layout for ${name} at ${width}px`);
  return JSON.parse(m[1].replace(/&quot;/g, '"').replace(/&amp;/g, '&')) as Layout;
}

function pages(): Record<string, string> {
  const fixture = join(work, 'web-1.ndjson');
  writeFileSync(fixture, webHostLog());
  const single = formatReadinessHtml(computeReadiness([loadReportInput(fixture)], { minHours: 24, since: null, now: NOW }));
  const since = '2026-11-29T11:20:00.000Z';
  const recent = formatReadinessHtml(computeReadiness([loadReportInput(fixture, since)], { minHours: 0, since, now: NOW }));
  const proc = (exe: string) => ({ pid: 7, exe, cmdline: `${exe} --with-a-rather-long-option-value=${'x'.repeat(150)}`, uid: 0, user: 'root', unit: 'app.service', container: null, ancestors: [] });
  const hosts = Array.from({ length: 500 }, (_, i) => {
    const s = emptyState(`ip-10-0-${i >> 8}-${i & 255}.eu-west-1.compute.internal`, null);
    s.instanceId = `i-${(0x1000000000000 + i).toString(16).padStart(17, '0')}`;
    s.windows.push({ start: '2026-11-27T00:00:00.000Z', end: NOW, bootId: null });
    if (i === 3) s.windows.splice(0, 1,{ start: '2026-11-27T00:00:00.000Z', end: '2026-11-27T05:00:00.000Z', bootId: null }, { start: '2026-11-27T09:00:00.000Z', end: NOW, bootId: null });
    if (i === 4) s.drops.pcap = 12;
    if (i % 9 === 0) recordEvent(s, ev({ process: proc('/opt/legacy/agent'), attribution: 'gate', status: 401, ts: '2026-11-29T10:00:00.000Z' }));
    if (i % 5 === 0) recordEvent(s, ev({ process: proc('/usr/bin/curl'), attribution: 'gate', ts: '2026-11-28T10:00:00.000Z' }));
    recordEvent(s, ev({ version: 'v2', reason: null, process: proc('/usr/local/bin/aws'), attribution: 'gate', ts: '2026-11-28T10:00:00.000Z' }));
    return { host: s.host, state: s };
  });
  const fleet = formatReadinessHtml(computeReadiness(hosts, { minHours: 24, since: null, now: NOW }));
  return { single, recent, fleet };
}

describe('HTML report layout in headless chromium (#11)', () => {
  it.runIf(!!process.env.CI)('chromium is installed under CI', () => expect(CHROMIUM).not.toBeNull());

  it.runIf(CHROMIUM !== null)(
    'no horizontal overflow at 1024 and 1440 px; readable chart labels; hosts, IMDSv2, capture loss and rejected programs shown',
    async () => {
      try {
        const p = pages();
        const runs = Object.entries(p).flatMap(([name, html]) => [1024, 1440].map((w) => ({ name, w, html })));
        // two chromiums at a time (the machine running the tests may be small)
        const results: Array<(typeof runs)[number] & { l: Layout }> = [];
        for (let i = 0; i < runs.length; i += 2) results.push(...(await Promise.all(runs.slice(i, i + 2).map(async (r) => ({ ...r, l: await layout(r.name, r.html, r.w) })))));
        for (const { name, w, l } of results) {
          const where = `${name} at ${w}px`;
          expect(l.scrollWidth, where).toBeLessThanOrEqual(l.vw);
          expect(l.over, where).toEqual([]);
          expect(l.minSvgTextPx, where).toBeGreaterThanOrEqual(10);
          expect(l.svgRight!, where).toBeLessThanOrEqual(l.vw);
          expect(l.headings, where).toEqual(expect.arrayContaining(['Capture loss and gaps', 'Hosts', 'Calls over time', 'Software to fix', 'Already on IMDSv2 (nothing to do)']));
          expect(l.xLabels.length, where).toBeGreaterThanOrEqual(2);
        }
        const get = (name: string) => results.find((r) => r.name === name && r.w === 1024)!.l;
        expect(get('fleet').hostRows).toBe(500);
        expect(get('single').hostRows).toBe(1);
        // under an hour: per-minute labels (HH:MM)
        expect(get("recent").xLabels.filter((x) => !/^\d\d:\d\d$/.test(x))).toEqual([]);
        expect(get("single").xLabels.filter((x) => !/^\d\d-\d\d \d\dh$/.test(x))).toEqual([]);
        // a program rejected with 401 right now stands out from the others
        expect(get('fleet').brokenColor).toBe('rgb(198, 40, 40)');
        expect(get('fleet').normalColor).not.toBe(get('fleet').brokenColor);
        expect(p.fleet.includes('capture dropped 12 packet')).toBe(true);
        expect(p.fleet.includes('gap: ip-10-0-0-3.')).toBe(true);
      } finally {
        rmSync(work, { recursive: true, force: true });
      }
    },
    240_000,
  );
});
