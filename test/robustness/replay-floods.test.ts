import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_FLOW_LIMITS } from '../../src/tcp/stream.js';
import { DEFAULT_HTTP_LIMITS } from '../../src/http/message.js';
import { NORMAL_CLIENT, NORMAL_UA, writeEndlessHeader, writeFragmentFlood, writeHalfOpenFlood, writeShortConnFlood, type FloodFile } from './flood-captures.js';
import { DATAGRAM_OVERHEAD, DEFAULT_REASSEMBLY_LIMITS, FRAGMENT_OVERHEAD } from '../../src/decode/ip-reassembly.js';
import { CLI, MiB, built, measure } from './helpers.js';

/**
 * Floods through `imdswatch replay` with the default limits: the process stays under
 * 128 MiB RSS, what the flow table had to give up is counted, and the normal IMDSv1 calls
 * interleaved with the flood are all still reported. Captures are generated in /tmp and
 * removed afterwards.
 *
 * SHORT_CONNS: 1 000 000 one-shot connections generate and replay in ~60 s alone here (2
 * shared cores), over this suite's time budget; the suite uses 200 000 and
 * IMDSWATCH_FLOOD_CONNS=1000000 runs the full million.
 */
const RSS_BOUND = 128 * MiB;
const HALF_OPEN = 100_000;
const SHORT_CONNS = Number(process.env.IMDSWATCH_FLOOD_CONNS ?? 1_000_000);
const ENDLESS_HEADER_BYTES = 64 * MiB;
const FRAGMENT_DATAGRAMS = 50_000;

interface ReplayJson {
  input: { packets: number; skipped: Record<string, number>; errors: string[] };
  totals: { requests: number; v1: number; v2: number; token: number };
  groups: Array<{ client: string; userAgent: string | null; v1: number; v2: number; token: number }>;
}

const dir = mkdtempSync(join(tmpdir(), `imdswatch-floods-${process.pid}-`));

async function replay(file: FloodFile, extra: string[] = []): Promise<{ json: ReplayJson; maxRss: number; elapsedMs: number; stderr: string }> {
  const r = await measure([process.execPath, CLI, 'replay', '--format', 'json', '--no-progress', ...extra, file.path], 180_000);
  expect(r.code, r.stderr).toBe(0);
  return { json: JSON.parse(r.stdout) as ReplayJson, maxRss: r.maxRss, elapsedMs: r.elapsedMs, stderr: r.stderr };
}

function normalGroup(json: ReplayJson) {
  return json.groups.find((g) => g.client === NORMAL_CLIENT && g.userAgent === NORMAL_UA);
}

function report(name: string, file: FloodFile, genMs: number, r: { json: ReplayJson; maxRss: number; elapsedMs: number }): void {
  console.log(
    `replay flood ${name}: ${file.packets} packets, ${(file.bytes / MiB).toFixed(1)} MiB generated in ${genMs} ms; ` +
      `replay ${r.elapsedMs} ms, max RSS ${(r.maxRss / MiB).toFixed(1)} MiB, skipped ${JSON.stringify(r.json.input.skipped)}, ` +
      `requests ${r.json.totals.requests}`,
  );
}

describe.skipIf(!built())('replay under floods (default limits)', () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it(`${HALF_OPEN} concurrent half-open flows: bounded RSS, evictions counted, interleaved v1 calls reported`, async () => {
    const t0 = Date.now();
    const file = writeHalfOpenFlood(join(dir, 'half-open.pcap'), HALF_OPEN);
    const genMs = Date.now() - t0;
    const r = await replay(file);
    report('half-open', file, genMs, r);
    rmSync(file.path);
    expect(r.maxRss).toBeLessThan(RSS_BOUND);
    // every SYN past a full table evicts the least recently active flow; a normal call
    // evicts one too but leaves the table with its FIN, so the next SYN evicts none — except
    // after the last normal call, which comes after the last SYN: one more
    expect(r.json.input.skipped['tcp-flows-evicted']).toBe(HALF_OPEN - DEFAULT_FLOW_LIMITS.maxFlows + 1);
    expect(file.normalCalls).toBe(HALF_OPEN / 1000);
    expect(normalGroup(r.json)).toMatchObject({ v1: file.normalCalls, v2: 0, token: 0 });
    // the SYN-only flows carry no request: nothing else is reported
    expect(r.json.totals).toMatchObject({ requests: file.normalCalls, v1: file.normalCalls });
  }, 120_000);

  it(`${SHORT_CONNS} short connections: bounded RSS, every call reported, nothing evicted`, async () => {
    const t0 = Date.now();
    const file = writeShortConnFlood(join(dir, 'short-conns.pcap'), SHORT_CONNS);
    const genMs = Date.now() - t0;
    const r = await replay(file);
    report('short-conns', file, genMs, r);
    rmSync(file.path);
    expect(r.maxRss).toBeLessThan(RSS_BOUND);
    // each connection ends (FIN both ways) before the next starts: the table never fills
    expect(r.json.input.skipped['tcp-flows-evicted']).toBeUndefined();
    expect(r.json.input.errors).toEqual([]);
    expect(file.normalCalls).toBe(SHORT_CONNS / 10_000);
    expect(normalGroup(r.json)).toMatchObject({ v1: file.normalCalls, v2: 0, token: 0 });
    expect(r.json.totals).toMatchObject({ requests: SHORT_CONNS + file.normalCalls, v1: SHORT_CONNS + file.normalCalls });
  }, 180_000);

  it('an endless header (64 MiB, never ended): bounded RSS, one header-limit error, interleaved v1 calls reported', async () => {
    const t0 = Date.now();
    const file = writeEndlessHeader(join(dir, 'endless-header.pcap'), ENDLESS_HEADER_BYTES);
    const genMs = Date.now() - t0;
    const r = await replay(file);
    report('endless-header', file, genMs, r);
    rmSync(file.path);
    expect(r.maxRss).toBeLessThan(RSS_BOUND);
    expect(r.json.input.skipped['E_HTTP_HEADERS_TOO_LARGE']).toBe(1);
    expect(normalGroup(r.json)).toMatchObject({ v1: file.normalCalls, v2: 0, token: 0 });
    expect(file.normalCalls).toBeGreaterThan(40);
    // the abandoned request is not an event; only the normal calls are
    expect(r.json.totals.requests).toBe(file.normalCalls);
    expect(DEFAULT_HTTP_LIMITS.maxHeaderBytes).toBeLessThan(ENDLESS_HEADER_BYTES);
  }, 120_000);

  it(`${FRAGMENT_DATAGRAMS} IPv4 datagrams to IMDS whose later fragments never come: bounded RSS, evictions and unread fragments counted, fragmented v1 calls reported`, async () => {
    const t0 = Date.now();
    const file = writeFragmentFlood(join(dir, 'fragments.pcap'), FRAGMENT_DATAGRAMS);
    const genMs = Date.now() - t0;
    const r = await replay(file);
    report('fragments', file, genMs, r);
    rmSync(file.path);
    expect(r.maxRss).toBeLessThan(RSS_BOUND);
    // every flood fragment stays unread; the normal calls' fragments are all reassembled
    expect(r.json.input.skipped['ip-fragments']).toBe(FRAGMENT_DATAGRAMS);
    // the reassembler holds what fits in maxBytes (each flood datagram: 1400 bytes + overhead); every
    // other flood datagram is evicted, the oldest first. A normal call's first fragment may push one
    // more out while it waits for its second.
    const perDatagram = 1400 + 20 + FRAGMENT_OVERHEAD + DATAGRAM_OVERHEAD;
    const held = Math.floor(DEFAULT_REASSEMBLY_LIMITS.maxBytes / perDatagram);
    const evicted = r.json.input.skipped['ip-reassembly-evicted'];
    expect(evicted).toBeGreaterThanOrEqual(FRAGMENT_DATAGRAMS - held);
    expect(evicted).toBeLessThanOrEqual(FRAGMENT_DATAGRAMS - held + file.normalCalls);
    expect(r.json.input.skipped['ip-reassembly-timeout']).toBeUndefined();
    expect(file.normalCalls).toBe(FRAGMENT_DATAGRAMS / 1000);
    expect(normalGroup(r.json)).toMatchObject({ v1: file.normalCalls, v2: 0, token: 0 });
    expect(r.json.totals).toMatchObject({ requests: file.normalCalls, v1: file.normalCalls });
  }, 120_000);
});
