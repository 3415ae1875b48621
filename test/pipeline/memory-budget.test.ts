import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { replayFiles } from '../../src/pipeline/replay.js';
import { summarize } from '../../src/sinks/input-summary.js';
import { createPipeline } from '../../src/pipeline/create-pipeline.js';
import { DEFAULT_FLOW_LIMITS, DEFAULT_MEMORY_BUDGET_BYTES } from '../../src/tcp/stream.js';
import { EXCHANGE_COST } from '../../src/tcp/memory-budget.js';
import { NORMAL_CLIENT, writeHeldBytesFlood } from '../robustness/flood-captures.js';

/**
 * The byte budget through the whole chain (decode → tcp → http → imds): flows that hold
 * heads or out-of-order data are evicted oldest first past the budget, counted as evicted
 * flows (unread IMDS traffic: the verdict cannot be READY), and the call after them is found.
 */
const dir = mkdtempSync(join(tmpdir(), `imdswatch-budget-${process.pid}-`));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const BUDGET = 256 * 1024;

describe('byte budget through the pipeline', () => {
  it('is one named default, and every snapshot carries its counters', () => {
    expect(DEFAULT_FLOW_LIMITS.memoryBudgetBytes).toBe(DEFAULT_MEMORY_BUDGET_BYTES);
    expect(createPipeline({ onEvent() {} }).stats().tcp).toMatchObject({ budgetEvictedFlows: 0, budgetEvictedBytes: 0, heldBytes: 0, heldBytesPeak: 0 });
  });

  it('held heads, out-of-order data and SYN-only flows past the budget: oldest evicted and counted, the last call found, nothing left held', async () => {
    const file = writeHeldBytesFlood(join(dir, 'mix.pcap'), { heads: 600, headBytes: 1000, outOfOrder: 600, oooBytes: 1400, syns: 600, normalEvery: 0 });
    const r = await replayFiles([file.path], { flowLimits: { memoryBudgetBytes: BUDGET } });
    const tcp = r.stats.tcp;
    // each head flow holds more than EXCHANGE_COST + 1000 bytes: far fewer than 600 fit
    expect(tcp.budgetEvictedFlows).toBeGreaterThan(1200 - BUDGET / EXCHANGE_COST);
    expect(tcp.evictedFlows).toBe(tcp.budgetEvictedFlows); // the table (16 384 flows) never filled
    expect(tcp.budgetEvictedBytes).toBeGreaterThan(tcp.budgetEvictedFlows * 1000);
    // over by at most what one segment adds (a 1400-byte piece, or a head and its exchange)
    expect(tcp.heldBytesPeak).toBeGreaterThan(BUDGET - 16 * 1024);
    expect(tcp.heldBytesPeak).toBeLessThan(BUDGET + 16 * 1024);
    expect(tcp.heldBytes).toBe(0);
    // the one real call, after the flood, is reported
    expect(r.events.filter((e) => e.client.ip === NORMAL_CLIENT && e.version === 'v1')).toHaveLength(1);
    expect(r.events).toHaveLength(1);
    // evicted flows are unread IMDS traffic
    const input = summarize([file.path], r.stats, []);
    expect(input.unread['tcp-flows-evicted']).toBe(tcp.evictedFlows);
  });

  it('flows evicted while they held a request head (an IMDS request may have been in it): counted as unread IMDS traffic', async () => {
    // 200 head flows; the budget holds fewer: the first ones are evicted mid-head
    const file = writeHeldBytesFlood(join(dir, 'heads.pcap'), { heads: 200, headBytes: 1000, outOfOrder: 0, oooBytes: 0, syns: 0, normalEvery: 0 });
    const r = await replayFiles([file.path], { flowLimits: { memoryBudgetBytes: 64 * 1024 } });
    expect(r.stats.tcp.budgetEvictedFlows).toBeGreaterThan(150);
    expect(r.stats.http.requests).toBe(1); // only the last normal call completed its head
    const input = summarize([file.path], r.stats, []);
    expect(input.unread).toMatchObject({ 'tcp-flows-evicted': r.stats.tcp.budgetEvictedFlows });
  });

  it('default budget: captures of a few calls hold almost nothing and evict nothing', async () => {
    const file = writeHeldBytesFlood(join(dir, 'few.pcap'), { heads: 10, headBytes: 1000, outOfOrder: 10, oooBytes: 1400, syns: 10, normalEvery: 5 });
    const r = await replayFiles([file.path]);
    expect(r.stats.tcp.budgetEvictedFlows).toBe(0);
    expect(r.stats.tcp.evictedFlows).toBe(0);
    expect(r.stats.tcp.heldBytesPeak).toBeLessThan(20 * (EXCHANGE_COST + 4096));
    expect(r.stats.tcp.heldBytes).toBe(0);
    expect(r.events).toHaveLength(file.normalCalls);
  });
});
