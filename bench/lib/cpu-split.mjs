/**
 * The live daemon's CPU per call, split by stage (issue 23's split), from a V8 CPU profile
 * of the daemon (`node --cpu-prof`) and a time window of it (the bench's load step).
 *
 * Each sample in the window is charged to one bucket: walking its stack from the leaf up,
 * the first frame whose script is in BUCKETS decides (so `readFileSync` called by the owner
 * search is owner search, called by the process cache it is enrichment). Samples with no
 * such frame go to V8's own buckets (GC, program) or to "other" (Node internals: timers,
 * the metrics HTTP server's sockets, ...). "(idle)" samples are not CPU and are left out.
 * A sample's weight is the time since the previous sample (the profile's timeDeltas), so
 * the split is of the main thread's time; libuv's threads and V8's GC helper threads are
 * the difference between the process's CPU (/proc) and the sampled total.
 *
 * Window times are CLOCK_MONOTONIC microseconds: V8's profile timestamps on Linux and
 * `process.hrtime.bigint() / 1000n` in the bench share that clock (checked at load:
 * `profileClockOffsetUs`).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** [bucket, test on the frame's script url]; the first match wins, most specific first */
export const BUCKETS = [
  ['owner search (/proc, sock_diag)', /\/dist[^/]*\/enrich\/process\/(owner-search|sock-diag|socket-rows|proc-net-tcp|netns-index|waiting-first|proc-scan)\.js$|sockdiag/],
  ['enrichment (/proc reads, caches)', /\/dist[^/]*\/enrich\//],
  ['logging (pino, log file)', /\/dist[^/]*\/sinks\/(event-log|rotating-file)\.js$|\/node_modules\/(pino|sonic-boom|thread-stream|on-exit-leak-free|pino-std-serializers|safe-stable-stringify|quick-format-unescaped|atomic-sleep|fast-redact)\/|\/dist[^/]*\/text\//],
  ['state (ledger, state file)', /\/dist[^/]*\/(ledger|readiness)\/|\/dist[^/]*\/sinks\/state-store\.js$/],
  ['metrics', /\/dist[^/]*\/sinks\/metrics\.js$|\/node_modules\/prom-client\/|\/dist[^/]*\/service\/metrics-server\.js$/],
  ['gate verdicts (NFQUEUE, attribution)', /\/dist[^/]*\/live\/(gate|gate-rules|busy-guard|hold-histogram|queue-backlog|attribution|cap-binding)\.js$/],
  ['capture callbacks (capture, decode, tcp, http)', /\/dist[^/]*\/(live|decode|tcp|http|imds|pipeline|source|domain)\/|\/node_modules\/cap\//],
  ['daemon (cli, enforce, health)', /\/dist[^/]*\/(cli|enforce|service)\//],
];

/** V8's pseudo-frames */
const V8_BUCKETS = { '(garbage collector)': 'GC (main thread)', '(program)': 'V8/native (program)' };

export function findProfile(dir) {
  const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')) : [];
  if (files.length === 0) return null;
  // the daemon's (largest) profile: `ip netns exec` runs no node of its own, but be safe
  const biggest = files.map((f) => path.join(dir, f)).sort((a, b) => fs.statSync(b).size - fs.statSync(a).size)[0];
  return JSON.parse(fs.readFileSync(biggest, 'utf8'));
}

/** per node id: its bucket (from the leaf up) */
function bucketsByNode(profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const memo = new Map();
  const bucketOf = (id) => {
    if (memo.has(id)) return memo.get(id);
    const n = byId.get(id);
    const cf = n.callFrame;
    let b = null;
    if (cf.functionName === '(idle)') b = 'idle';
    else if (V8_BUCKETS[cf.functionName]) b = V8_BUCKETS[cf.functionName];
    else {
      for (const [name, re] of BUCKETS) if (cf.url && re.test(cf.url)) {
        b = name;
        break;
      }
      if (!b) b = parent.has(id) ? bucketOf(parent.get(id)) : 'other (Node internals)';
    }
    memo.set(id, b);
    return b;
  };
  return bucketOf;
}

/** the hottest functions of a window (self time), for finding where each 100 µs goes */
function topFunctions(profile, inWindow, n = 25) {
  const byId = new Map(profile.nodes.map((x) => [x.id, x]));
  const self = new Map();
  for (const [i, id, dt] of inWindow) {
    void i;
    const cf = byId.get(id).callFrame;
    if (cf.functionName === '(idle)') continue;
    const k = `${cf.functionName || '(anonymous)'} ${cf.url.replace(/^.*\/(dist|node_modules)\//, '$1/')}:${cf.lineNumber + 1}`;
    self.set(k, (self.get(k) ?? 0) + dt);
  }
  return [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, n).map(([fn, us]) => ({ fn, us }));
}

/**
 * The split of [fromUs, toUs] (CLOCK_MONOTONIC µs): {bucket: CPU µs per call}, the sampled
 * total per call, and the hottest functions (µs per call of self time).
 */
export function cpuSplit(profile, fromUs, toUs, calls) {
  const bucketOf = bucketsByNode(profile);
  const sums = {};
  const inWindow = [];
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i];
    if (t < fromUs || t > toUs) continue;
    // the sample's weight: the time until the next sample (what the sampled state lasted)
    const dt = profile.timeDeltas[i + 1] ?? 0;
    const id = profile.samples[i];
    inWindow.push([i, id, dt]);
    const b = bucketOf(id);
    if (b === 'idle') continue;
    sums[b] = (sums[b] ?? 0) + dt;
  }
  const perCall = {};
  let total = 0;
  for (const [b, us] of Object.entries(sums).sort((a, b) => b[1] - a[1])) {
    perCall[b] = calls > 0 ? us / calls : null;
    total += us;
  }
  const top = topFunctions(profile, inWindow).map((x) => ({ fn: x.fn, usPerCall: calls > 0 ? x.us / calls : null }));
  return { calls, sampledUsPerCall: calls > 0 ? total / calls : null, perCall, top, samples: inWindow.length };
}

export const monotonicUs = () => Number(process.hrtime.bigint() / 1000n);
