#!/usr/bin/env node
// first: V8 memory growth limits, before anything allocates (see memory-tuning.ts)
import { tuneMallocForReplay } from './memory-tuning.js';
import type { Command, CommanderError } from 'commander';
import { CliError, EXIT_RETRY, EXIT_TROUBLE } from './exit-codes.js';
// the version of the package.json beside dist/: the repository's, the release tarball's
// and the .deb's /opt/imdswatch/package.json (packaging/build-release.sh copies it there)
import { VERSION } from '../domain/version.js';

let exitCode = 0;
const setExit = (code: number) => {
  exitCode = Math.max(exitCode, code);
};

/**
 * A closed pipe (| head) ends the run quietly. Set up for every command but a plain replay:
 * replay writes its output with writeSync (src/cli/output.ts), whose EPIPE main() catches,
 * and making the process.stdout stream costs ~37 M instructions on a pipe (docs/design.md#replay-argv).
 */
function watchStdout(): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(exitCode);
    throw err;
  });
}

/** commander, loaded only when the command line needs it (not for a plain replay: see main) */
let program: Command;
let CommanderErrorClass: typeof CommanderError | null = null;

async function loadCommander(): Promise<void> {
  const { Command, CommanderError } = await import('commander');
  CommanderErrorClass = CommanderError;
  program = new Command();
  program
    .name('imdswatch')
    .description('Find software that calls the EC2 Instance Metadata Service without a session token (IMDSv1).')
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
}

/**
 * Each command's module, loaded only when needed: `imdswatch replay ...` loads the replay
 * chain and nothing of the daemon (pino, prom-client, live capture), which is ~0.3 s of
 * CPU at start. Listed in help order; anything else (no command, --help, an unknown
 * command, `help`) loads them all, so help and error messages list every command.
 */
const COMMANDS: Record<string, () => Promise<void>> = {
  replay: async () => (await import('./replay-command.js')).registerReplayCommand(program, setExit),
  scan: async () => (await import('./scan-command.js')).registerScanCommand(program, setExit),
  daemon: async () => (await import('./daemon-command.js')).registerDaemonCommand(program),
  report: async () => (await import('./report-command.js')).registerReportCommand(program, setExit),
  gate: async () => (await import('./gate-command.js')).registerGateCommand(program),
  doctor: async () => (await import('./doctor-command.js')).registerDoctorCommand(program, setExit),
  enforce: async () => (await import('./enforce-command.js')).registerEnforceCommand(program),
};

/** the command named on the command line (the first argument that is not an option), if it is one of ours */
function commandToLoad(argv: string[]): string | null {
  const first = argv.slice(2).find((a) => !a.startsWith('-'));
  return first !== undefined && Object.hasOwn(COMMANDS, first) ? first : null;
}

async function main(): Promise<void> {
  try {
    const only = commandToLoad(process.argv);
    // replay only, before its stages allocate: glibc keeps freed memory for the compiler (docs/design.md#malloc-trim)
    if (only === 'replay') tuneMallocForReplay();
    // a plain replay command line is read without commander (docs/design.md#replay-argv)
    if (only === 'replay' && process.argv[2] === 'replay') {
      const rc = await import('./replay-command.js');
      const plain = rc.parseReplayArgs(process.argv.slice(3));
      if (plain !== null) {
        await rc.runReplay(plain.files, plain.opts, setExit);
        process.exitCode = exitCode;
        return;
      }
    }
    watchStdout();
    await loadCommander();
    for (const name of only === null ? Object.keys(COMMANDS) : [only]) await COMMANDS[name]();
    await program.parseAsync(process.argv);
    process.exitCode = exitCode;
  } catch (err) {
    if (CommanderErrorClass !== null && err instanceof CommanderErrorClass) {
      // help and version exit 0; every usage error exits 2 (docs/design.md#exit-codes)
      process.exitCode = err.exitCode === 0 ? 0 : EXIT_TROUBLE;
      return;
    }
    if (err instanceof CliError) {
      process.stderr.write(`imdswatch: ${err.message}\n`);
      process.exitCode = err.exitCode;
      return;
    }
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EPIPE') {
      // the reader went away (| head): stop quietly, as a SIGPIPE would
      process.exitCode = exitCode;
      return;
    }
    process.stderr.write(`imdswatch: unexpected error: ${e.code ?? ''} ${e.message.split('\n')[0]} (please report this)\n`);
    // not a usage error: a restart may get past it (systemd restarts on 3, never on 2)
    process.exitCode = EXIT_RETRY;
  }
}

void main();
