#!/usr/bin/env node
// first: V8 memory growth limits, before anything allocates (see memory-tuning.ts)
import './memory-tuning.js';
import { Command, CommanderError } from 'commander';
import { registerReplayCommand } from './replay-command.js';
import { registerReportCommand } from './report-command.js';
import { registerScanCommand } from './scan-command.js';
import { registerDaemonCommand } from './daemon-command.js';
import { registerGateCommand } from './gate-command.js';
import { registerDoctorCommand } from './doctor-command.js';
import { CliError, EXIT_RETRY, EXIT_TROUBLE } from './exit-codes.js';

let exitCode = 0;
const setExit = (code: number) => {
  exitCode = Math.max(exitCode, code);
};

process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  // a closed pipe (| head) ends the run quietly
  if (err.code === 'EPIPE') process.exit(exitCode);
  throw err;
});

const program = new Command();
program
  .name('imdswatch')
  .description('Find software that calls the EC2 Instance Metadata Service without a session token (IMDSv1).')
  .version('0.1.0')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

registerReplayCommand(program, setExit);
registerScanCommand(program, setExit);
registerDaemonCommand(program);
registerReportCommand(program, setExit);
registerGateCommand(program);
registerDoctorCommand(program, setExit);

async function main(): Promise<void> {
  try {
    await program.parseAsync(process.argv);
    process.exitCode = exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
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
