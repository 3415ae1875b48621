import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readCaptureFile } from '../../src/source/capture-file.js';
import { Decoder } from '../../src/decode/decoder.js';
import { FlowTable } from '../../src/tcp/flow-table.js';
import { HttpExchange } from '../../src/http/exchange.js';
import { emptyHttpStats, type HttpRequest, type HttpResponse } from '../../src/http/message.js';

/**
 * The tcp and http stages on the committed captures: every request the labels name is
 * parsed with the labelled method, path and status, in capture order. (Classification
 * is the imds stage's job: here a request whose head was cut is left out, as the imds
 * stage cannot classify it either.)
 */
interface LabelEvent {
  method: string;
  path: string;
  status: number | null;
}

function labelled(file: string): { events: LabelEvent[]; exitCode: number; decodeSkips: boolean } | null {
  const j = JSON.parse(readFileSync(file, 'utf8'));
  if (Array.isArray(j)) return { events: j, exitCode: 0, decodeSkips: false };
  if (j && Array.isArray(j.events)) return { events: j.events, exitCode: j.expect?.exitCode ?? 0, decodeSkips: j.expect?.skip !== undefined };
  return null;
}

function run(capture: string) {
  const decoder = new Decoder();
  const stats = emptyHttpStats();
  const seen: Array<{ req: HttpRequest; res: HttpResponse | null; order: number }> = [];
  let order = 0;
  const table = new FlowTable({
    onFlow: (flow) =>
      new HttpExchange({ onExchange: (req, res) => seen.push({ req, res, order: order++ }) }, undefined, {
        stats,
        midstream: !flow.sawSyn,
      }),
  });
  readCaptureFile(capture, (frame) => {
    const seg = decoder.decode(frame);
    if (seg !== null) table.push(seg);
  });
  table.finish();
  seen.sort((a, b) => a.req.sec - b.req.sec || a.req.nsec - b.req.nsec || a.order - b.order);
  return { seen, stats, tcp: table.stats };
}

const dirs = ['pcaps/edge', 'pcaps/real'].filter((d) => existsSync(d));
const cases: Array<{ name: string; capture: string; events: LabelEvent[] }> = [];
for (const dir of dirs) {
  for (const f of readdirSync(dir)) {
    if (!f.endsWith('.labels.json')) continue;
    const base = f.slice(0, -'.labels.json'.length);
    const capture = [`${base}.pcap`, `${base}.pcapng`].map((c) => join(dir, c)).find((c) => existsSync(c));
    const labels = labelled(join(dir, f));
    // captures about what the decoder skips (fragments, ...) test the decode stage, not these
    if (!capture || !labels || labels.exitCode !== 0 || labels.decodeSkips) continue;
    cases.push({ name: `${dir}/${base}`, capture, events: labels.events });
  }
}

describe('tcp + http stages on committed captures', () => {
  it.skipIf(cases.length === 0)('has captures to check', () => {
    expect(cases.length).toBeGreaterThan(10);
  });
  for (const c of cases) {
    it(c.name, () => {
      const { seen, tcp } = run(c.capture);
      const got = seen
        .filter((x) => x.req.truncated !== 'head')
        .map((x) => ({ method: x.req.method, path: x.req.target.split('?')[0], status: x.res ? x.res.status : null }));
      const want = c.events.map((e) => ({ method: e.method, path: e.path, status: e.status }));
      // labelled IMDS events are exactly the parsed requests (the snaplen case has none labelled and none whole)
      expect(got).toEqual(want);
      expect(tcp.activeFlows).toBe(0);
    });
  }
});
