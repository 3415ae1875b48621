import { describe, expect, it } from 'vitest';
import { createPipeline } from '../../src/pipeline/create-pipeline.js';
import { counterDelta, sumStats } from '../../src/pipeline/stats.js';
import { replayFiles } from '../../src/pipeline/replay.js';
import { ImdsStage } from '../../src/imds/imds-stage.js';
import { Enricher, SDK_CACHE_MAX_ENTRIES, type FlowAttribution } from '../../src/enrich/enricher.js';
import type { ImdsEvent } from '../../src/imds/event.js';
import type { HttpRequest } from '../../src/http/message.js';
import type { FlowInfo } from '../../src/tcp/stream.js';

const flow: FlowInfo = {
  key: '10.0.0.5|40000|169.254.169.254|80',
  client: { ip: '10.0.0.5', port: 40000 },
  server: { ip: '169.254.169.254', port: 80 },
  ipVersion: 4,
  sawSyn: true,
  sec: 100,
  nsec: 0,
};

function req(over: Partial<HttpRequest>): HttpRequest {
  return { method: 'GET', target: '/latest/meta-data/', httpVersion: 'HTTP/1.1', headers: [], sec: 100, nsec: 0, bodyLength: 0, truncated: null, ...over } as HttpRequest;
}

describe('ImdsStage', () => {
  it('builds events with enrichment fields empty and counts each skip reason', () => {
    const out: Array<[ImdsEvent, string]> = [];
    const stage = new ImdsStage<string>({ ordered: false, emit: (ev, c) => out.push([ev, c]) });
    const cb = stage.exchangeFor(flow, 'ctx');
    cb.onExchange(req({}), { status: 200 } as never);
    cb.onExchange(req({ httpVersion: '' }), null);
    cb.onExchange(req({ target: '/a\x01b' }), null);
    cb.onExchange(req({ unreadable: 'E_HTTP_BAD_START_LINE' }), null);
    cb.onExchange(req({ method: 'POST' }), null);
    cb.onExchange(req({ truncated: 'head' }), null);
    expect(out).toHaveLength(2);
    expect(out[1]![0]).toMatchObject({ version: 'v1', path: '/a%01b' });
    expect(out[0]![1]).toBe('ctx');
    expect(out[0]![0]).toMatchObject({ version: 'v1', status: 200, sdk: null, process: null, attribution: 'none', reason: null });
    expect(Object.keys(out[0]![0]).slice(0, 5)).toEqual(['ts', 'version', 'method', 'path', 'status']);
    expect(stage.stats()).toEqual({
      events: { v1: 2, v2: 0, token: 0 },
      skipped: { 'request-without-version': 1, 'request-unreadable': 1, 'not-imds-method': 1, 'unclassifiable-truncated-head': 1 },
    });
  });
});

describe('Enricher', () => {
  it('settles attribution as plain values and bounds its SDK cache', () => {
    const e = new Enricher();
    let settled = 0;
    const who: FlowAttribution = { settle: () => (settled++, { process: null, attribution: 'passive' }) };
    const base = { ts: '2026-01-01T00:00:00.000Z', version: 'v2', method: 'GET', path: '/', status: 200, client: flow.client, server: flow.server, sdk: null, process: null, attribution: 'none', reason: null, httpVersion: 'HTTP/1.1' } as const;
    for (let i = 0; i <= SDK_CACHE_MAX_ENTRIES; i++) e.enrich({ ...base, userAgent: `aws-cli/2.${i}.0` }, who);
    const ev = e.enrich({ ...base, userAgent: 'aws-cli/2.15.0' }, who);
    expect(ev.attribution).toBe('passive');
    expect(Object.getOwnPropertyDescriptor(ev, 'attribution')!.get).toBeUndefined();
    expect(ev.sdk?.name).toBeTruthy();
    const s = e.stats();
    expect(s.sdkCache.clears).toBe(1);
    expect(s.sdkCache.entries).toBeLessThanOrEqual(SDK_CACHE_MAX_ENTRIES);
    expect(s.attribution.passive).toBe(SDK_CACHE_MAX_ENTRIES + 2);
    expect(s.reasons.clients).toBeGreaterThan(0);
    expect(settled).toBe(SDK_CACHE_MAX_ENTRIES + 2);
  });
});

describe('pipeline stats', () => {
  it('every stage has its typed snapshot, counters at zero before input', () => {
    const s = createPipeline({ onEvent: () => {} }).stats();
    expect(Object.keys(s)).toEqual(['frames', 'decode', 'tcp', 'http', 'imds', 'enrich']);
    expect(s.http).toMatchObject({ requests: 0, responses: 0, unpairedResponses: 0, ignoredBytes: 0, errors: {} });
    expect(s.decode.unknownLinkTypes).toEqual({});
    expect(s.enrich.reasons).toEqual({ clients: 0, evicted: 0, badTime: 0 });
  });

  it('replay sums the files and counterDelta gives what changed, by path', async () => {
    const one = await replayFiles(['pcaps/real/curl-v1.pcap']);
    const two = await replayFiles(['pcaps/real/curl-v1.pcap', 'pcaps/real/curl-v1.pcap']);
    expect(two.stats).toEqual(sumStats(one.stats, one.stats));
    expect(one.stats.imds.events.v1).toBe(1);
    // a peak is the higher of the files', not their sum (files are read one after another)
    expect(one.stats.tcp.heldBytesPeak).toBeGreaterThan(0);
    expect(two.stats.tcp.heldBytesPeak).toBe(one.stats.tcp.heldBytesPeak);
    const d = counterDelta(one.stats, two.stats);
    expect(d['imds.events.v1']).toBe(1);
    expect(d['frames']).toBe(one.stats.frames);
    expect(counterDelta(two.stats, two.stats)).toEqual({});
    expect(counterDelta(null, one.stats)['http.requests']).toBe(1);
  });
});
