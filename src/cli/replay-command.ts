import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { replayFiles } from '../pipeline/replay.js';
import { CaptureSummaryBuilder } from '../sinks/capture-summary.js';
import { summarize } from '../sinks/input-summary.js';
import { openOutput } from './output.js';
import { createProgress } from './progress.js';
import { parseFormat } from './output-format.js';
import { failOnMatched, parseFailOn, unreadNotes } from './fail-on.js';
import { CliError, EXIT_MATCHED, EXIT_OK, EXIT_TROUBLE } from './exit-codes.js';

export function registerReplayCommand(program: Command, setExit: (code: number) => void): void {
  program
    .command('replay')
    .description('read pcap/pcapng captures (or - for stdin) and report every IMDS request: v1, v2 or token')
    .argument('<file...>', 'capture files: classic pcap or pcapng; - reads stdin')
    .option('-f, --format <format>', 'text (a report to read), json (the same as one object), ndjson (one event per request)', 'text')
    .option('--fail-on <kinds>', 'exit 1 when a call matches: v1 (any IMDSv1 call), rejected (401 to v1, 403 to a token PUT), unknown (IMDS traffic could not be read); comma-separated')
    .option('-o, --output <path>', 'write to this file (written completely, then renamed into place)')
    .option('--no-progress', 'never show the progress bar')
    .addHelpText(
      'after',
      `
Exit codes: 0 nothing matched --fail-on; 1 a call matched --fail-on; 2 bad usage or unreadable/malformed input
(what could be read is still reported).

Examples:
  imdswatch replay capture.pcap
  imdswatch replay --fail-on v1 --format ndjson -o events.ndjson pcaps/real/*.pcap
  tcpdump -i any -w - 'host 169.254.169.254' | imdswatch replay -`,
    )
    .action((files: string[], o: ReplayOptions) => runReplay(files, o, setExit));
}

/** the replay command's options, as commander gives them (and parseReplayArgs) */
export interface ReplayOptions {
  format: string;
  failOn?: string;
  output?: string;
  progress: boolean;
}

/** `imdswatch replay FILE...`: read the captures, print the report (the command's action) */
export async function runReplay(files: string[], o: ReplayOptions, setExit: (code: number) => void): Promise<void> {
  const format = parseFormat(o.format);
  const failOn = parseFailOn(o.failOn);
  for (const f of files) {
    if (f !== '-' && !existsSync(f)) throw new CliError(`${f}: no such file (give pcap or pcapng files, or - for stdin)`, 'E_CAPTURE_IO');
  }
  if (files.filter((f) => f === '-').length > 1) throw new CliError('stdin (-) can be given only once');
  const out = openOutput(o.output);
  const report = new CaptureSummaryBuilder();
  const progress = o.progress ? createProgress('replay') : { update() {}, done() {} };
  let result;
  try {
    result = await replayFiles(files, {
      onEvent(ev) {
        report.add(ev);
        if (format === 'ndjson') out.write(`${JSON.stringify(ev)}\n`);
      },
      onProgress: (d, t) => progress.update(d, t),
    });
  } catch (err) {
    progress.done();
    out.abort();
    throw err;
  }
  progress.done();
  const unreadLine = unreadNotes(files, result); // all packets of an unsupported link type → error; else what IMDS traffic went unread
  const input = summarize(files, result.stats, result.errors.map((e) => errorLine(e.file, e.message)), result.read.skipped);
  const built = report.build(input);
  // each error is said once: on stderr, and in a text report only when it goes to a file
  // the text report's modules load only for it (~17 M instructions a json or ndjson run does not need)
  if (format === 'text') {
    const { formatCaptureSummaryText } = await import('../sinks/capture-summary-text.js');
    out.write(formatCaptureSummaryText(built, o.output ? input : { ...input, errors: [] }));
  }
  // `stages`: every counter of every stage (src/pipeline/stats.ts), for diagnosis
  else if (format === 'json') out.write(`${JSON.stringify({ input, stages: result.stats, ...built }, null, 2)}\n`);
  out.commit();
  for (const e of result.errors) process.stderr.write(`imdswatch: ${errorLine(e.file, e.message)}\n`);
  if (unreadLine !== null && result.errors.length === 0) process.stderr.write(`imdswatch: ${unreadLine}\n`);
  if (input.unclassified > 0 && failOn.length > 0) {
    process.stderr.write(
      `imdswatch: ${input.unclassified} IMDS request(s) could not be classified: their headers were cut (snaplen or lost packets); capture with tcpdump -s 0\n`,
    );
    setExit(EXIT_TROUBLE);
  }
  if (result.errors.length > 0) setExit(EXIT_TROUBLE);
  else setExit(failOnMatched(failOn, built.totals, input) ? EXIT_MATCHED : EXIT_OK);
}

/**
 * The replay command line in its plain forms, read without commander (~60 M instructions of
 * start-up, ~15 ms of CPU; docs/design.md#replay-argv): `args` (what follows `replay`) may
 * hold only capture files (`-` is stdin) and `-f/--format V`, `--fail-on V`, `-o/--output V`,
 * `--no-progress`, each value a separate argument that does not start with `-` (or is `-`).
 * Anything else — help, `--opt=value`, `--`, unknown options, no file — is null: commander
 * parses it, so its usage errors and help are unchanged. Gives what commander would.
 */
export function parseReplayArgs(args: readonly string[]): { files: string[]; opts: ReplayOptions } | null {
  const files: string[] = [];
  const opts: ReplayOptions = { format: 'text', progress: true };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a.length <= 1 || a[0] !== '-') {
      files.push(a);
      continue;
    }
    if (a === '--no-progress') {
      opts.progress = false;
      continue;
    }
    const v = args[i + 1];
    if (v === undefined || (v.length > 1 && v[0] === '-')) return null;
    if (a === '-f' || a === '--format') opts.format = v;
    else if (a === '--fail-on') opts.failOn = v;
    else if (a === '-o' || a === '--output') opts.output = v;
    else return null;
    i++;
  }
  return files.length > 0 ? { files, opts } : null;
}

/** "FILE: message", without saying the file twice when the message already starts with it */
function errorLine(file: string, message: string): string {
  return message.startsWith(file) ? message : `${file}: ${message}`;
}

