import { Option, type Command } from 'commander';
import { MARK_REJECTED, MARK_WOULD_REJECT, startEnforce, type WorkloadSummary } from '../enforce/enforce.js';
import { EnforceError, type Selection } from '../enforce/workload.js';
import { printable } from '../text/sanitize.js';
import { parseDuration } from './duration.js';
import { CliError } from './exit-codes.js';
import { waitForStop } from './signals.js';

/**
 * `imdswatch enforce (--unit NAME | --container NAME | --cgroup PATH)... [--dry-run] [--duration D]`
 * (docs/design.md#enforce). stdout: one NDJSON line per rejected (or, with --dry-run, would-be
 * rejected) call, a ready line first and a summary line last; stderr: what is enforced and,
 * at the end, what would break per workload.
 */
const collect = (v: string, prev: string[]): string[] => [...prev, v];

interface EnforceCliOptions {
  unit: string[];
  container: string[];
  cgroup: string[];
  dryRun?: boolean;
  duration?: string;
  cgroupRoot?: string;
  as?: string;
  followStdin?: boolean;
  upstreamHints?: boolean;
}

export function registerEnforceCommand(program: Command): void {
  program
    .command('enforce')
    .description('answer one workload\'s token-less IMDS calls 401, as HttpTokens=required would, and nothing else (root)')
    .option('--unit <name>', 'a systemd unit (repeatable)', collect, [])
    .option('--container <name>', 'a Docker or Podman container by name or id (repeatable)', collect, [])
    .option('--cgroup <path>', 'a cgroup v2 path relative to the cgroup v2 root, as iptables -m cgroup --path (repeatable)', collect, [])
    .option('--dry-run', 'let every call through; report each one that would have been rejected')
    .option('--duration <d>', 'stop after this long (e.g. 10m, 1h); default: until SIGINT/SIGTERM')
    .option('--cgroup-root <path>', 'where the cgroup v2 hierarchy is mounted (default: found in /proc/self/mounts)')
    // how imdswatch runs itself inside a container's network namespace (src/enforce/delegate.ts)
    .addOption(new Option('--as <label>', 'the workload label in events').hideHelp())
    .addOption(new Option('--follow-stdin', 'stop when stdin ends').hideHelp())
    // a daemon's delegate: one line per connection passed on to IMDS, so the daemon names the workload's process, not this one
    .addOption(new Option('--upstream-hints', 'write enforce-upstream lines').hideHelp())
    .action(async (o: EnforceCliOptions) => {
      const selections: Selection[] = [
        ...o.unit.map((name) => ({ kind: 'unit' as const, name })),
        ...o.container.map((name) => ({ kind: 'container' as const, name })),
        ...o.cgroup.map((name) => ({ kind: 'cgroup' as const, name })),
      ];
      let timeoutMs: number | undefined;
      if (o.duration !== undefined) {
        const ms = parseDuration(o.duration);
        if (ms === null || ms <= 0) throw new CliError(`--duration ${JSON.stringify(o.duration)} is not a duration (e.g. 30s, 10m, 2h)`);
        timeoutMs = ms;
      }
      const write = (obj: unknown): void => void process.stdout.write(`${JSON.stringify(obj)}\n`);
      let lost: string | null = null;
      let wake: (() => void) | null = null;
      let session;
      try {
        session = await startEnforce({
          selections,
          dryRun: o.dryRun === true,
          cgroupRoot: o.cgroupRoot,
          labelAs: o.as,
          onEvent: (e) => write(e),
          onUpstream: o.upstreamHints ? (hint) => write({ type: 'enforce-upstream', hint }) : undefined,
          onLost: (why) => {
            lost = why;
            wake?.();
          },
        });
      } catch (err) {
        if (err instanceof EnforceError) throw new CliError(err.message, err.code);
        throw err;
      }
      const onExit = (): void => session.removeNow();
      process.on('exit', onExit);
      const mode = o.dryRun ? `dry run: nothing is rejected, each call that would be is logged ("${MARK_WOULD_REJECT}")` : `token-less GET/HEAD get 401 ("${MARK_REJECTED}")`;
      for (const w of session.warnings) process.stderr.write(`imdswatch enforce: warning: ${w}\n`);
      for (const w of session.workloads) process.stderr.write(`imdswatch enforce: HttpTokens=required for ${w.label} (cgroup /${w.path}); ${mode}\n`);
      write({ type: 'enforce-ready', time: new Date().toISOString(), dryRun: o.dryRun === true, table: session.table, workloads: session.workloads.map((w) => ({ workload: w.label, cgroup: `/${w.path}` })) });
      if (o.followStdin) {
        process.stdin.on('end', () => wake?.());
        process.stdin.on('error', () => wake?.());
        process.stdin.resume();
      }
      await Promise.race([waitForStop({ timeoutMs }), new Promise<void>((r) => (wake = r))]);
      const summary = await session.stop();
      process.off('exit', onExit);
      write({ type: 'enforce-summary', time: new Date().toISOString(), dryRun: o.dryRun === true, workloads: summary });
      for (const s of summary) process.stderr.write(`${describeSummary(s, o.dryRun === true)}\n`);
      if (lost) throw new CliError(`enforcement stopped early: ${lost}; every workload reaches IMDS as before`, 'E_ENFORCE_RULE_FAILED');
      process.stderr.write('imdswatch enforce: stopped; rules removed, every workload reaches IMDS as before\n');
    });
}

/** "unit:app.service: would break — 3 token-less calls (GET /latest/meta-data/ by /usr/bin/curl); 5 passed" */
export function describeSummary(s: WorkloadSummary, dryRun: boolean): string {
  const n = dryRun ? s.wouldReject : s.rejected;
  if (n === 0) return `${s.workload}: ready for HttpTokens=required — no token-less call ${dryRun ? 'would have been' : 'was'} rejected; ${s.passed} passed`;
  const what = dryRun ? 'would break' : 'broke';
  return `${s.workload}: ${what} — ${n} token-less call${n === 1 ? '' : 's'} ${dryRun ? 'would have been' : 'were'} rejected (${s.calls.map((c) => printable(c, 300)).join('; ')}); ${s.passed} passed`;
}
