import { describe, expect, it } from 'vitest';
import { CHROMIUM, dumpDom } from '../support/chromium.js';
import { computeReadiness } from '../../src/readiness/readiness.js';
import { formatReadinessHtml } from '../../src/readiness/readiness-html.js';
import { recordEvent } from '../../src/ledger/ledger.js';
import { bootState } from './fixtures/boots.js';
import { ev } from '../helpers/events.js';

/**
 * docs/design.md#sanitizer: hostile names (markup, controls, a 7 KB path) in every part of
 * the page that shows untrusted text, including the unwatched makers and the overflow
 * buckets, rendered by headless chromium: no element they could make, the title unchanged.
 */
const EVIL = `<img src=x onerror="document.title='pwned'"><script>document.title='pwned'</script>\x1b]0;t\x07\u009b\u202e`;

function page(): string {
  const s = bootState([{ fromBoot: true }, { fromBoot: true, unwatched: { count: 1, makers: [{ uid: 0, pid: 1, exe: `/usr/bin/${EVIL}`, unit: `${EVIL}.service`, count: 1, firstTs: null }], source: EVIL } }]);
  const proc = (exe: string, uid = 0) => ({ pid: 7, exe, cmdline: `${exe} ${EVIL}`, uid, user: EVIL, unit: `${EVIL}.service`, container: null, ancestors: [] });
  recordEvent(s, ev({ ts: s.windows[1].start, process: proc(`/opt/${EVIL}`), userAgent: EVIL, path: `/latest/${EVIL}`, attribution: 'gate' }));
  recordEvent(s, ev({ ts: s.windows[1].start, process: proc(`/opt/${'a'.repeat(7000)}`), attribution: 'gate' }));
  for (let i = 0; i < 510; i++) recordEvent(s, ev({ ts: s.windows[1].start, process: proc(`/tmp/${EVIL}-${i}`, 1000), attribution: 'gate' }));
  s.host = EVIL;
  return formatReadinessHtml(computeReadiness([{ host: EVIL, state: s }], { minHours: 0, since: null, now: s.windows[1].end }));
}

describe('HTML report with hostile names', () => {
  it('the page text has no raw control character and no value shown whole past its cut', () => {
    const html = page();
    expect(html).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e]/);
    expect(html).not.toContain('a'.repeat(400));
    expect(html).not.toMatch(/<(img|script)/i);
    expect(html).toMatch(/programs of uid 1000 past its share/);
  });

  it.runIf(CHROMIUM !== null)(
    'chromium: no script or image element, title unchanged',
    async () => {
      const dom = await dumpDom(page());
      expect(dom).toMatch(/<title>IMDSv2 readiness: NOT READY<\/title>/);
      expect(dom).not.toMatch(/<(img|script)[\s>]/i);
      expect(dom).toContain('pid 1');
    },
    120_000,
  );
});
