#!/usr/bin/env node
/**
 * The daemon's state save and the event loop: how long the loop (capture callbacks, SYN gate
 * verdicts) is blocked while the state is saved, and what a save costs in CPU.
 *
 *   npm run build && node bench/state-save.mjs [--programs 2000] [--hours 240] [--secs 12]
 *
 * A state of --programs programs with --hours hourly counts and 120 minutes each (a full
 * program table after weeks: ~20 MiB of JSON) is written and loaded back as the daemon does;
 * then, in a child process per way of saving, for --secs seconds: an event is folded in
 * every 10 ms (100 calls/s, ten programs) and the state saved every second, like the daemon.
 *   whole  the whole state stringified and written synchronously (saveState, the old daemon)
 *   saver  StateSaver (src/sinks/state-store.ts): changed entries only, in slices, thread-pool write
 * The longest event-loop block is the longest gap between turns of a 2 ms probe timer (less
 * its period); the first save (every entry stale after the load) and the rest apart.
 * Writes bench/out/state-save.json.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { arg, loadAverage, markdownTable } from './lib/measure.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const DIST = path.join(here, '..', 'dist');
const outDir = path.join(here, 'out');
const mod = (p) => import(pathToFileURL(path.join(DIST, p)).href);

/** the longest the event loop may be blocked by a save: a gate verdict waits at most this long for it */
export const TARGETS = { maxBlockMs: 20 };

function event(i, prog) {
  const ts = new Date(Date.parse('2026-12-01T00:00:00.000Z') + i * 10).toISOString();
  return {
    ts, version: i % 3 === 0 ? 'v2' : 'v1', method: 'GET', path: '/latest/meta-data/', status: 200,
    client: { ip: '10.0.0.2', port: 40000 + (i % 1000) }, server: { ip: '169.254.169.254', port: 80 },
    userAgent: 'curl/7.88.1', sdk: null, attribution: 'gate', reason: i % 3 === 0 ? null : 'no-token-attempt', httpVersion: 'HTTP/1.1',
    process: { pid: 1000 + prog, exe: `/usr/bin/prog-${prog}`, cmdline: `/usr/bin/prog-${prog} --run`, uid: prog % 4, user: `user${prog % 4}`, unit: 'x.service', container: null, ancestors: [] },
  };
}

/** a state of `programs` entries with `hours` hourly counts and 120 minutes each, written to `file` */
async function makeStateFile(file, programs, hours) {
  const { emptyState, recordEvent, touchWindow, saveState } = await mod('sinks/state-store.js');
  const s = emptyState('bench-host', 'boot-a');
  touchWindow(s, '2026-11-01T00:00:00.000Z', true);
  for (let p = 0; p < programs; p++) recordEvent(s, event(p, p));
  const h0 = Date.parse('2026-11-01T00:00:00.000Z');
  for (const e of Object.values(s.software)) {
    e.hours = {};
    for (let h = 0; h < hours; h++) e.hours[`${new Date(h0 + h * 3600e3).toISOString().slice(0, 13)}:00:00Z`] = [h % 7, 0, h % 5, h % 3];
    e.minutes = {};
    for (let m = 0; m < 120; m++) e.minutes[new Date(h0 + m * 60e3).toISOString().slice(0, 16)] = [1, 0, 0, 0];
    e.minutesFrom = '2026-11-01T00:00';
  }
  saveState(file, s);
  return fs.statSync(file).size;
}

async function child(way, file, secs) {
  const { loadState, recordEvent, saveState, StateSaver, touchWindow } = await mod('sinks/state-store.js');
  const { state } = loadState(file, 'bench-host', 'boot-a', new Date().toISOString(), () => ({ name: 'bench-host', instanceId: null }));
  const saver = new StateSaver(file, state, (e) => {
    throw e;
  });
  // the longest gap between turns of a 2 ms probe timer, minus its period: how long the loop was
  // held; with it, the CPU time the process used in that gap (much less than the gap: the
  // process was waiting for a core, the machine's load, not the save)
  const cpuMs = () => {
    const c = process.cpuUsage();
    return (c.user + c.system) / 1000;
  };
  let last = performance.now();
  let lastCpu = cpuMs();
  let worst = 0;
  let worstCpu = 0;
  const probe = setInterval(() => {
    const t = performance.now();
    const c = cpuMs();
    if (t - last - 2 > worst) {
      worst = t - last - 2;
      worstCpu = c - lastCpu;
    }
    last = t;
    lastCpu = c;
  }, 2);
  const blocks = [];
  let i = 0;
  const cpu0 = process.cpuUsage();
  // the daemon's load: one event every 10 ms into ten programs
  const events = setInterval(() => recordEvent(state, event(i++, i % 10)), 10);
  let saves = 0;
  await new Promise((resolve) => {
    const tick = setInterval(() => {
      // the longest block since the last tick: the save made at the last tick
      blocks.push([worst, worstCpu]);
      worst = 0;
      worstCpu = 0;
      if (++saves > secs) {
        clearInterval(tick);
        resolve();
        return;
      }
      touchWindow(state, new Date().toISOString(), false);
      if (way === 'whole') saveState(file, state);
      else saver.request();
    }, 1000);
  });
  clearInterval(events);
  clearInterval(probe);
  await saver.flush();
  const cpu = process.cpuUsage(cpu0);
  // blocks[0] is before any save; blocks[1] follows the first save after the load
  const rest = blocks.slice(2).sort((a, b) => b[0] - a[0]);
  process.stdout.write(JSON.stringify({ way, saves: secs, firstSaveBlockMs: blocks[1][0], firstSaveBlockCpuMs: blocks[1][1], maxBlockMs: rest[0][0], maxBlockCpuMs: rest[0][1], cpuMsPerSecond: (cpu.user + cpu.system) / 1000 / secs, sysMsPerSecond: cpu.system / 1000 / secs }));
}

export async function benchStateSave({ programs = 2000, hours = 240, secs = 12 } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imdswatch-bench-state-'));
  try {
    const file = path.join(dir, 'state.json');
    const bytes = await makeStateFile(file, programs, hours);
    const rows = [];
    for (const way of ['whole', 'saver']) {
      const load = loadAverage();
      const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', way, '--file', file, '--secs', String(secs)], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`state-save child ${way}: ${r.stderr.slice(-800)}`);
      rows.push({ ...JSON.parse(r.stdout), load });
    }
    const saver = rows.find((r) => r.way === 'saver');
    const verdicts = { maxBlockMs: Math.max(saver.firstSaveBlockMs, saver.maxBlockMs) <= TARGETS.maxBlockMs };
    const result = { when: new Date().toISOString(), programs, hours, stateMiB: bytes / 2 ** 20, rows, targets: TARGETS, verdicts };
    fs.mkdirSync(outDir, { recursive: true });
    fs.writeFileSync(path.join(outDir, 'state-save.json'), `${JSON.stringify(result, null, 2)}\n`);
    return result;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export function stateSaveMarkdown(r) {
  const name = { whole: 'whole state stringified + written synchronously (before)', saver: 'StateSaver: changed entries, slices, thread-pool write (now)' };
  const lines = [
    `### state save: ${r.stateMiB.toFixed(1)} MiB state (${r.programs} programs × ${r.hours} hours), 100 events/s, a save each second`,
    '',
    markdownTable(
      ['way', 'first save after load: longest block ms (process CPU ms in it)', 'later saves: longest block ms (CPU ms)', 'CPU ms per second (of it kernel)', 'load average'],
      r.rows.map((x) => [name[x.way], `${x.firstSaveBlockMs.toFixed(0)} (${x.firstSaveBlockCpuMs.toFixed(0)})`, `${x.maxBlockMs.toFixed(0)} (${x.maxBlockCpuMs.toFixed(0)})`, `${x.cpuMsPerSecond.toFixed(0)} (${x.sysMsPerSecond.toFixed(0)})`, x.load]),
    ),
    '',
    `target: the event loop blocked ≤ ${r.targets.maxBlockMs} ms by a save: **${r.verdicts.maxBlockMs ? 'met' : 'missed'}** (a block whose CPU time is much shorter than it was the machine's load: measure on an idle machine)`,
  ];
  return lines.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const way = arg('--child', null);
  if (way) await child(way, arg('--file', null), Number(arg('--secs', '12')));
  else {
    const r = await benchStateSave({ programs: Number(arg('--programs', '2000')), hours: Number(arg('--hours', '240')), secs: Number(arg('--secs', '12')) });
    console.log(stateSaveMarkdown(r));
  }
}
