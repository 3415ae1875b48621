import type { Command } from 'commander';
import { CliError, EXIT_OK, EXIT_TROUBLE } from './exit-codes.js';
import { runDoctor } from '../doctor/run-doctor.js';
import { formatDoctor } from '../doctor/format.js';

/** `imdswatch doctor`: exit 0 when nothing failed (warnings allowed), 2 otherwise. */
export function registerDoctorCommand(program: Command, setExit: (code: number) => void): void {
  program
    .command('doctor')
    .description('check libpcap, capabilities, firewall and gate rules, log permissions, EC2/IMDS and the service, with the fix for each problem')
    .option('--log-dir <dir>', 'log directory to check', '/var/log/imdswatch')
    .option('--user <name>', 'service user', 'imdswatch')
    .option('--no-imds', 'do not send the IMDS token request')
    .option('--format <format>', 'text or json', 'text')
    .action(async (opts: { logDir: string; user: string; imds: boolean; format: string }) => {
      if (opts.format !== 'text' && opts.format !== 'json') throw new CliError(`--format takes text or json, not "${opts.format}"`);
      const result = await runDoctor({ logDir: opts.logDir, user: opts.user, imds: opts.imds });
      if (opts.format === 'json') process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      else process.stdout.write(formatDoctor(result.lines));
      setExit(result.ok ? EXIT_OK : EXIT_TROUBLE);
    });
}
