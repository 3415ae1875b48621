#!/usr/bin/env node
/**
 * Test and benchmark probe for the live stage (not a user command): runs the SYN gate and/or
 * a passive SYN-triggered lookup in the current network namespace and prints one JSON line
 * per attributed SYN: {"mode","key","pid","exe","outcome","holdMs","lookupMs"}. Prints
 * "ready" once listening; on SIGTERM/SIGINT prints {"stats":…} and exits 0 after removing
 * the gate rules. Never prints argv or anything from the traffic but addresses and ports.
 *
 *   live-probe-main.js --mode gate|passive [--queue 7] [--budget 50]
 */
import { Decoder } from '../decode/decoder.js';
import { TCP_ACK, TCP_SYN } from '../decode/packet.js';
import { ProcCorrelator } from '../enrich/process/proc-correlator.js';
import { LiveSession } from './live-session.js';
import { LiveCapture } from './capture.js';
import { SegmentDeduper } from './dedupe.js';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : dflt;
}

const mode = arg('mode', 'gate');
const queueNum = Number(arg('queue', '7'));
const budget = Number(arg('budget', '50'));
const out = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);
const correlator = new ProcCorrelator();
const decoder = new Decoder();
const passiveTimes: number[] = [];

let session: LiveSession | null = null;
let capture: LiveCapture | null = null;
const dedupe = new SegmentDeduper();
if (mode === 'gate') {
  session = LiveSession.start({
    interfaces: ['any'],
    gate: true,
    queueNum,
    gateBudgetMs: budget,
    correlator,
    capture: false,
    onEvent: () => {},
    onWarning: (m) => out({ warning: m }),
    onGateRecord: (r) =>
      out({ mode, key: r.key, pid: r.process?.pid ?? null, exe: r.process?.exe ?? null, outcome: r.outcome, holdMs: r.holdMs, lookupMs: r.lookupMs, netns: r.netnsInode }),
  });
} else {
  // passive: look the socket up when the capture delivers the client's SYN (the prototype's way)
  // after the one decode, one copy per packet (as the live session does): a container's SYN
  // is seen on its veth and, NATed, on the uplink
  correlator.prime();
  capture = new LiveCapture((f) => {
    const seg = decoder.decode(f);
    if (!seg || !dedupe.acceptSegment(seg, seg.sec * 1000 + seg.nsec / 1e6)) return;
    if (!seg.toImds || (seg.flags & (TCP_SYN | TCP_ACK)) !== TCP_SYN) return;
    const r = correlator.findSocketOwner({ srcIp: seg.src, srcPort: seg.srcPort, dstIp: seg.dst, dstPort: seg.dstPort, ipVersion: seg.ipVersion }, budget);
    passiveTimes.push(r.elapsedMs);
    out({ mode, key: `${seg.src}|${seg.srcPort}|${seg.dst}|${seg.dstPort}`, pid: r.process?.pid ?? null, exe: r.process?.exe ?? null, outcome: r.outcome, holdMs: null, lookupMs: r.elapsedMs });
  });
  capture.start();
}
out({ ready: true, gateActive: session?.gateActive ?? false });

// a main of its own (like cli/main.ts): the one place in src/live that handles signals
const finish = () => {
  const s = session?.stats();
  session?.stop();
  const cs = capture?.stats() ?? s?.capture ?? null;
  capture?.stop();
  out({ stats: { gateActive: s?.gateActive ?? false, gate: s?.gate ?? null, holdQuantiles: s?.holdQuantiles ?? null, capture: cs, dedupe: s?.dedupe ?? (capture ? dedupe.stats() : null), correlator: correlator.stats(), passiveLookups: passiveTimes.length } });
  process.exit(0);
};
process.once('SIGTERM', finish);
process.once('SIGINT', finish);
