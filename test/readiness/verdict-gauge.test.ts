/**
 * The verdict on /metrics (src/readiness/verdict-gauge.ts, docs/design.md#readiness-metric):
 * `imdswatch_readiness{verdict}` is a state set, and it says what `imdswatch report` says of
 * the same state file, with the report's own defaults.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import { emptyState, recordEvent, saveState, type DaemonState } from '../../src/sinks/state-store.js';
import { Metrics, VERDICT_LABELS } from '../../src/sinks/metrics.js';
import { hostVerdict, REPORT_MIN_HOURS } from '../../src/readiness/verdict-gauge.js';
import { registerReportCommand } from '../../src/cli/report-command.js';
import type { ImdsEvent } from '../../src/imds/event.js';
import { ev } from '../helpers/events.js';

const dir = mkdtempSync(join(tmpdir(), `imw-verdict-${process.pid}-`));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const HOUR = 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString();
const proc = (exe: string, unit = 'app.service') => ({ pid: 7, exe, cmdline: exe, uid: 0, user: 'root', unit, container: null, ancestors: [] });

/** a daemon's state right after it saved: its window runs from `hours` ago to now */
function observed(hours: number, events: Array<Partial<ImdsEvent>> = []): DaemonState {
  const now = Date.now();
  const s = emptyState('web-1', null);
  s.windows.push({ start: iso(now - hours * HOUR), end: iso(now), bootId: null });
  events.forEach((e, i) => recordEvent(s, ev({ ts: iso(now - HOUR + i * 1000), attribution: 'gate', ...e })));
  return s;
}

/** `imdswatch report --format json FILE` as a user runs it: the command's own defaults */
async function report(state: DaemonState, name: string): Promise<{ verdict: string; findings: unknown[] }> {
  const file = join(dir, `${name}.json`);
  const out = join(dir, `${name}.report.json`);
  saveState(file, state);
  const program = new Command().exitOverride();
  registerReportCommand(program, () => {});
  await program.parseAsync(['report', '--format', 'json', '-o', out, file], { from: 'user' });
  return JSON.parse(readFileSync(out, 'utf8'));
}

async function readinessLines(m: Metrics): Promise<string[]> {
  return (await m.registry.metrics()).split('\n').filter((l) => /^imdswatch_readiness(_blocking_programs)?[{ ]/.test(l));
}

const curl = proc('/usr/bin/curl', 'cron.service');
const CASES: Array<[string, () => DaemonState, string, number]> = [
  ['READY: 30 h, IMDSv2 only', () => observed(30, [{ version: 'v2', reason: null, process: proc('/usr/bin/aws') }]), 'READY', 0],
  ['READY: only probes for another cloud', () => observed(30, [{ path: '/computeMetadata/v1/', reason: 'foreign-cloud-probe', process: proc('/usr/bin/cloud-init') }]), 'READY', 0],
  [
    'NOT READY: two programs, one rejected',
    () => observed(30, [{ process: curl }, { process: curl }, { process: proc('/opt/old/agent'), status: 401 }, { version: 'v2', reason: null, process: proc('/usr/bin/aws') }]),
    'NOT READY',
    2,
  ],
  ['NOT READY within the first hours', () => observed(2, [{ process: curl }]), 'NOT READY', 1],
  ['UNKNOWN: 20 h is under the report\'s 24 h', () => observed(20), 'UNKNOWN', 0],
  [
    'UNKNOWN: capture loss',
    () => {
      const s = observed(30);
      s.drops.pcap = 2;
      return s;
    },
    'UNKNOWN',
    0,
  ],
  [
    'UNKNOWN: the daemon was stopped for an hour',
    () => {
      const s = observed(10);
      const now = Date.now();
      s.windows.unshift({ start: iso(now - 40 * HOUR), end: iso(now - 11 * HOUR), bootId: null });
      return s;
    },
    'UNKNOWN',
    0,
  ],
  [
    'UNKNOWN: connections made before imdswatch watched',
    () => {
      const s = observed(30);
      Object.assign(s.windows[0]!, { startKind: 'boot', fromBoot: true, unwatched: { count: 3, makers: [], source: 'early-rule' } });
      return s;
    },
    'UNKNOWN',
    0,
  ],
];

describe('imdswatch_readiness: what `imdswatch report` says', () => {
  it.each(CASES)('%s', async (name, make, verdict, blocking) => {
    const state = make();
    const before = JSON.stringify(state);
    const v = hostVerdict(state, new Date().toISOString());
    expect(JSON.stringify(state), 'hostVerdict leaves the state alone').toBe(before);
    const r = await report(state, name.replace(/\W+/g, '-'));
    expect(v).toEqual({ verdict: r.verdict, blockingPrograms: r.findings.length });
    expect(v).toEqual({ verdict, blockingPrograms: blocking });
    const m = new Metrics();
    m.setReadiness(v);
    const label = VERDICT_LABELS[verdict as keyof typeof VERDICT_LABELS];
    expect(await readinessLines(m)).toEqual([
      ...['ready', 'not_ready', 'unknown'].map((l) => `imdswatch_readiness{verdict="${l}"} ${l === label ? 1 : 0}`),
      `imdswatch_readiness_blocking_programs ${blocking}`,
    ]);
  });

  it("uses the report command's defaults (--min-hours, no --since)", () => {
    const program = new Command();
    registerReportCommand(program, () => {});
    const cmd = program.commands.find((c) => c.name() === 'report')!;
    expect(cmd.options.find((o) => o.long === '--min-hours')?.defaultValue).toBe(String(REPORT_MIN_HOURS));
    expect(cmd.options.find((o) => o.long === '--since')?.defaultValue).toBeUndefined();
  });
});

describe('imdswatch_readiness is a state set', () => {
  it('has no sample before the first verdict, then every label, exactly one of them 1', async () => {
    const m = new Metrics();
    expect((await readinessLines(m)).filter((l) => l.startsWith('imdswatch_readiness{'))).toEqual([]);
    m.setReadiness({ verdict: 'READY', blockingPrograms: 0 });
    m.setReadiness({ verdict: 'NOT READY', blockingPrograms: 3 });
    expect(await readinessLines(m)).toEqual([
      'imdswatch_readiness{verdict="ready"} 0',
      'imdswatch_readiness{verdict="not_ready"} 1',
      'imdswatch_readiness{verdict="unknown"} 0',
      'imdswatch_readiness_blocking_programs 3',
    ]);
    m.setReadiness({ verdict: 'UNKNOWN', blockingPrograms: 0 });
    expect(await readinessLines(m)).toEqual([
      'imdswatch_readiness{verdict="ready"} 0',
      'imdswatch_readiness{verdict="not_ready"} 0',
      'imdswatch_readiness{verdict="unknown"} 1',
      'imdswatch_readiness_blocking_programs 0',
    ]);
  });
});
