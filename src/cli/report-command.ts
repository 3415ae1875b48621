import { DEFAULT_STATE_PATH } from '../domain/endpoint.js';
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { loadReportInput, parseSince, bootTimeFromProc, ReportInputError, type HostState } from '../readiness/inputs.js';
import { computeReadiness } from '../readiness/readiness.js';
import { formatReadinessMarkdown, formatReadinessText } from '../readiness/readiness-format.js';
import { formatReadinessHtml } from '../readiness/readiness-html.js';
import { readHostFiles } from '../readiness/host-files.js';
import { placeJobs } from '../readiness/job-finding.js';
import { nextStepOf } from '../readiness/next-step.js';
import { hostname } from 'node:os';
import { openOutput } from './output.js';
import { CliError, EXIT_MATCHED, EXIT_OK } from './exit-codes.js';

export { DEFAULT_STATE_PATH }; // one state path: src/domain/endpoint.ts

export function registerReportCommand(program: Command, setExit: (code: number) => void): void {
  program
    .command('report')
    .description('what software used IMDSv1, and whether this host (or fleet) is ready for IMDSv2-only')
    .argument('[files...]', `state files or NDJSON event files, one per host (default: ${DEFAULT_STATE_PATH})`)
    .option('--since <when>', 'only what happened since: 24h, 7d, 30m, boot, or an ISO time (event files: exact; state files: to the hour)')
    .option('-f, --format <format>', 'text, markdown (for a change ticket), html (one self-contained page), json', 'text')
    .option('--min-hours <hours>', 'observation needed before READY', '24')
    .option('--fail-unless-ready', 'exit 1 unless the verdict is READY')
    .option('-o, --output <path>', 'write to this file')
    .option('--host-root <dir>', "where this host's cron and timer files are read from, to name the line of each cron job (default /; only for a report about this host)", '/')
    .option('--no-host-files', "do not read this host's cron and timer files")
    .addHelpText(
      'after',
      `
Verdict: READY (no IMDSv1 call over at least --min-hours of observation without capture loss),
NOT READY (the software to fix, with the fix), or UNKNOWN (too little observation or capture loss).

Fleet: give one file per host, e.g. the state files or NDJSON logs your log shipper collects:
  imdswatch report --format markdown hosts/*.json`,
    )
    .action((files: string[], o: { since?: string; format: string; minHours: string; failUnlessReady?: boolean; output?: string; hostRoot: string; hostFiles: boolean }) => {
      const paths = files.length ? files : [DEFAULT_STATE_PATH];
      const minHours = Number(o.minHours);
      if (!Number.isFinite(minHours) || minHours < 0) throw new CliError('--min-hours takes a number of hours, e.g. 24');
      if (!['text', 'markdown', 'html', 'json'].includes(o.format)) throw new CliError(`--format takes text, markdown, html or json, not "${o.format}"`);
      const now = new Date();
      let since: string | null;
      let local = false;
      try {
        since = parseSince(o.since, now, bootTimeFromProc);
      } catch (err) {
        throw new CliError((err as Error).message);
      }
      // one file at a time: a fleet of 10 000 host files never sits in memory at once
      function* inputs(): Generator<HostState> {
        for (const p of paths) {
          let input: HostState;
          try {
            input = loadReportInput(p, since);
          } catch (err) {
            if (!(err instanceof ReportInputError)) throw err;
            throw new CliError(
              err.code === 'ENOENT' && p === DEFAULT_STATE_PATH ? `${err.message} (is the daemon installed and running? see imdswatch doctor)` : err.message,
              'E_INPUT',
            );
          }
          // the running daemon's own state: a window it stopped extending is a gap up to now
          input.live = !input.fromEvents && resolve(p) === DEFAULT_STATE_PATH;
          local = paths.length === 1 && (input.live || input.host === hostname() || o.hostRoot !== '/');
          if (input.skippedLines) process.stderr.write(`imdswatch: ${input.source}: ${input.skippedLines} line(s) that are not events were skipped\n`);
          yield input;
        }
      }
      const r = computeReadiness(inputs(), { minHours, since, now: now.toISOString() });
      // docs/design.md#jobs: a report about this host names the cron line or timer of each job
      if (local && o.hostFiles) {
        placeJobs(r.findings, readHostFiles(o.hostRoot));
        r.nextStep = nextStepOf(r);
      }
      const out = openOutput(o.output);
      out.write(
        o.format === 'json' ? `${JSON.stringify(r, null, 2)}\n` : o.format === 'markdown' ? formatReadinessMarkdown(r) : o.format === 'html' ? formatReadinessHtml(r) : formatReadinessText(r),
      );
      out.commit();
      setExit(o.failUnlessReady && r.verdict !== 'READY' ? EXIT_MATCHED : EXIT_OK);
    });
}
