#!/usr/bin/env node
/**
 * `npm run bench`: every benchmark, markdown on stdout, JSON in bench/out/.
 *
 *   npm run bench [-- --only replay|live] [--size-mib 1024] [--runs 3] [--tshark-mib N] [--soak-secs 180] ...
 *
 * replay: bench/replay.mjs (imdswatch replay vs tcpdump vs tshark on a ~1 GiB capture)
 * live:   bench/live.mjs (SYN gate hold, daemon zero-loss rate, CPU, RSS soak; root only,
 *         skipped with a note otherwise)
 * state:  bench/state-save.mjs (the daemon's state save: longest event-loop block, CPU; with live or --only state)
 * fairness: bench/fairness.mjs (root's IMDS calls while one uid floods; root only; with live or --only fairness)
 * fleet:  bench/fleet-report.mjs (report over 10 000 host state files; only with --only fleet)
 * Options after `--` are passed to both (see each file's header).
 */
import { arg, flag } from './lib/measure.mjs';
import { benchReplay, replayMarkdown } from './replay.mjs';
import { benchLive, liveMarkdown, liveOptionsFromArgs } from './live.mjs';
import { benchFleet, fleetMarkdown } from './fleet-report.mjs';
import { benchFairness, fairnessMarkdown, fairnessOptionsFromArgs } from './fairness.mjs';
import { benchStateSave, stateSaveMarkdown } from './state-save.mjs';

const only = arg('--only', null);
if (only !== null && only !== 'replay' && only !== 'live' && only !== 'fleet' && only !== 'fairness' && only !== 'state') {
  console.error('bench: --only takes replay, live, state, fairness or fleet');
  process.exit(2);
}
const t0 = Date.now();
let failed = false;

if (only === null || only === 'replay') {
  const r = await benchReplay({
    sizeMiB: Number(arg('--size-mib', process.env.BENCH_SIZE_MIB ?? '1024')),
    runs: Number(arg('--runs', '3')),
    tsharkMiB: Number(arg('--tshark-mib', '128')),
  });
  console.log(replayMarkdown(r));
  console.log('');
  if (Object.values(r.verdicts).includes(false)) failed = true;
}

// the daemon's state save against the event loop (bench/state-save.mjs; no root needed)
if (only === null || only === 'live' || only === 'state') {
  const r = await benchStateSave({ secs: Number(arg('--state-secs', '12')) });
  console.log(stateSaveMarkdown(r));
  console.log('');
  if (Object.values(r.verdicts).includes(false)) failed = true;
}

if (only === null || only === 'live') {
  if (process.getuid?.() !== 0) {
    console.log('### live: skipped (needs root for network namespaces and the SYN gate)');
  } else {
    const r = await benchLive(liveOptionsFromArgs(arg));
    console.log(liveMarkdown(r));
    if (Object.values(r.verdicts).includes(false)) failed = true;
  }
}
// the SYN gate's per-uid fairness under one uid's flood (bench/fairness.mjs): with live, or alone
if (only === null || only === 'live' || only === 'fairness') {
  if (process.getuid?.() !== 0) {
    console.log('### fairness: skipped (needs root for network namespaces and the SYN gate)');
  } else {
    const r = await benchFairness(fairnessOptionsFromArgs(arg));
    console.log(fairnessMarkdown(r));
    if (Object.values(r.verdicts).includes(false)) failed = true;
  }
}
// #11: the fleet report benchmark runs only when asked for (it writes ~180 MiB of host files)
if (only === 'fleet') {
  const r = benchFleet({ hosts: Number(arg('--hosts', '10000')) });
  console.log(fleetMarkdown(r));
  if (Object.values(r.verdicts).includes(false)) failed = true;
}
console.log(`\n(bench ran ${((Date.now() - t0) / 60000).toFixed(1)} min; results in bench/out/)`);
if (flag('--strict') && failed) process.exit(1);
