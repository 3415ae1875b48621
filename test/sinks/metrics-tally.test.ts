import { describe, expect, it } from 'vitest';
import type { ImdsEvent } from '../../src/imds/event.js';
import { Metrics } from '../../src/sinks/metrics.js';
import { isoTimeField } from '../../src/sinks/event-log.js';

function ev(version: ImdsEvent['version'], status: number | null, exe: string | null, attribution: ImdsEvent['attribution'] = 'gate'): ImdsEvent {
  return {
    ts: '2026-12-07T07:00:00.000000Z',
    version,
    method: 'GET',
    path: '/latest/meta-data/',
    status,
    client: { ip: '10.0.2.15', port: 40000 },
    server: { ip: '169.254.169.254', port: 80 },
    userAgent: null,
    sdk: null,
    process: exe === null ? null : { pid: 10, exe, cmdline: null, uid: 0, user: 'root', unit: 'x.service', container: null, ancestors: [] },
    attribution,
    reason: 'no-token-attempt',
    httpVersion: 'HTTP/1.1',
  } as ImdsEvent;
}

const lines = (text: string, prefix: string) => text.split('\n').filter((l) => l.startsWith(prefix)).sort();

describe('per-call counters are tallied and added at each scrape (docs/design.md#metric-tallies)', () => {
  it('each scrape shows every call counted once, cumulative across scrapes', async () => {
    const m = new Metrics();
    m.event(ev('v1', 200, '/usr/bin/curl'));
    m.event(ev('v1', 200, '/usr/bin/curl'));
    m.event(ev('v2', 200, '/usr/bin/python3'));
    m.event(ev('v1', 599, null, 'none'));
    let text = await m.registry.metrics();
    expect(lines(text, 'imdswatch_requests_total{')).toEqual([
      'imdswatch_requests_total{version="v1",status="200"} 2',
      'imdswatch_requests_total{version="v1",status="other"} 1',
      'imdswatch_requests_total{version="v2",status="200"} 1',
    ]);
    expect(lines(text, 'imdswatch_attribution_total{')).toEqual(['imdswatch_attribution_total{outcome="gate"} 3', 'imdswatch_attribution_total{outcome="none"} 1']);
    expect(lines(text, 'imdswatch_v1_calls_total{')).toEqual([
      'imdswatch_v1_calls_total{exe="/usr/bin/curl",unit="x.service"} 2',
      'imdswatch_v1_calls_total{exe="unknown",unit="none"} 1',
    ]);
    expect(lines(text, 'imdswatch_v1_calls_by_container_total{')).toEqual(['imdswatch_v1_calls_by_container_total{container="none"} 3']);
    // a second scrape with nothing new: the same; then one more call
    const ours = (t: string) => t.split('\n').filter((l) => /^imdswatch_(requests|attribution|v1_calls)/.test(l));
    expect(ours(await m.registry.metrics())).toEqual(ours(text));
    m.event(ev('v1', 200, '/usr/bin/curl'));
    text = await m.registry.metrics();
    expect(text).toContain('imdswatch_requests_total{version="v1",status="200"} 3');
    expect(text).toContain('imdswatch_v1_calls_total{exe="/usr/bin/curl",unit="x.service"} 3');
    expect(text).toContain('imdswatch_attribution_total{outcome="gate"} 4');
    expect(text).toContain('imdswatch_v1_calls_by_container_total{container="none"} 4');
  });
});

describe("the event log's time field (isoTimeField)", () => {
  it("is pino's isoTime text for every millisecond, across seconds, and when the clock goes back", () => {
    const base = Date.UTC(2026, 11, 7, 7, 2, 3, 0);
    const times = [base - 1, base, base + 1, base + 9, base + 10, base + 99, base + 100, base + 999, base + 1000, base + 1001, base + 5, base - 1000, 0, 999, 1000, Date.UTC(2099, 0, 1)];
    for (let i = 0; i < 3000; i++) times.push(base + Math.floor(Math.random() * 86_400_000));
    for (const t of times) expect(isoTimeField(t)).toBe(`,"time":"${new Date(t).toISOString()}"`);
  });
});
