#!/usr/bin/env node
/**
 * Cost of the verdict on /metrics (src/readiness/verdict-gauge.ts): one hostVerdict — the
 * report's computeReadiness — over a full daemon state, as the daemon runs it once per save
 * interval. The state holds STATE_LIMITS.maxSoftware programs (2 000: four users' shares of
 * 500), each with a week of hourly calls (half of them IMDSv1), a few command lines and
 * users, plus 500 observation windows (STATE_LIMITS.maxWindows) in the second run.
 *
 *   npm run build && node bench/verdict-gauge.mjs [--runs 200]
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { arg } from './lib/measure.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const { emptyState, recordEvent, STATE_LIMITS } = await import(join(ROOT, 'dist/ledger/ledger.js'));
const { hostVerdict } = await import(join(ROOT, 'dist/readiness/verdict-gauge.js'));

const runs = Number(arg('--runs', '200'));
const HOURS = 24 * 7;
const now = Date.now();
const iso = (ms) => new Date(ms).toISOString();

function fullState(windows) {
  const s = emptyState('web-1', null);
  const span = HOURS * 3_600_000;
  for (let w = 0; w < windows; w++) s.windows.push({ start: iso(now - span + (w * span) / windows), end: iso(now - span + ((w + 1) * span) / windows - (w + 1 < windows ? 1000 : 0)), bootId: null });
  for (let h = 0; h < HOURS; h++) {
    for (let p = 0; p < STATE_LIMITS.maxSoftware; p++) {
      const uid = 1000 + (p % 4);
      const v1 = p % 2 === 0;
      recordEvent(s, {
        ts: iso(now - span + h * 3_600_000 + p),
        version: v1 ? 'v1' : 'v2',
        method: 'GET',
        path: `/latest/meta-data/p${p % 7}`,
        status: 200,
        client: { ip: '10.0.0.2', port: 40000 + (p % 1000) },
        server: { ip: '169.254.169.254', port: 80 },
        userAgent: 'curl/7.88.1',
        sdk: null,
        process: { pid: 100 + p, exe: `/opt/app${p}/bin/agent`, cmdline: `/opt/app${p}/bin/agent --run ${h % 3}`, uid, user: `u${uid}`, unit: `app${p}.service`, container: null, ancestors: [] },
        attribution: 'gate',
        reason: v1 ? 'no-token-attempt' : null,
        httpVersion: 'HTTP/1.1',
      });
    }
  }
  return s;
}

for (const windows of [1, STATE_LIMITS.maxWindows]) {
  const state = fullState(windows);
  // for scale: the save the daemon already does each interval serializes the whole state
  const t0 = process.hrtime.bigint();
  const bytes = JSON.stringify(state).length;
  const stringifyMs = (Number(process.hrtime.bigint() - t0) / 1e6).toFixed(1);
  let v;
  for (let i = 0; i < 10; i++) v = hostVerdict(state, iso(now)); // warm-up
  // wall time, and CPU time (user + system: less disturbed by other processes on a shared machine)
  const times = [];
  const cpu = [];
  for (let i = 0; i < runs; i++) {
    const t = process.hrtime.bigint();
    const c = process.cpuUsage();
    v = hostVerdict(state, iso(now));
    const d = process.cpuUsage(c);
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
    cpu.push((d.user + d.system) / 1000);
  }
  times.sort((a, b) => a - b);
  cpu.sort((a, b) => a - b);
  const at = (xs, f) => xs[Math.min(xs.length - 1, Math.floor(f * xs.length))].toFixed(2);
  const q = (f) => `${at(times, f)} ms (CPU ${at(cpu, f)})`;
  console.log(
    `${Object.keys(state.software).length} programs, ${state.windows.length} window(s), state ${(bytes / 1048576).toFixed(1)} MiB: verdict ${v.verdict} (${v.blockingPrograms} blocking); one hostVerdict median ${q(0.5)}, p90 ${q(0.9)}, max ${q(1)} over ${runs} runs (its JSON.stringify for the save: ${stringifyMs} ms)`,
  );
}
