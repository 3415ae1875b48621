import { ImdswatchError, type ErrorCode } from '../errors/catalogue.js';

/**
 * Exit codes (docs/design.md#exit-codes): 0 nothing matched --fail-on, 1 a call matched,
 * 2 usage/input/privilege problem (restarting cannot fix it: the unit's
 * RestartPreventExitStatus=2), 3 a failure a restart may fix (an interface not there yet at
 * boot, an unexpected error): systemd restarts the daemon.
 */
export const EXIT_OK = 0;
export const EXIT_MATCHED = 1;
export const EXIT_TROUBLE = 2;
export const EXIT_RETRY = 3;

/** An error the CLI reports as one line (no stack) and exits 2 (or 3); its code is from docs/errors.md. */
export class CliError extends ImdswatchError {
  constructor(
    message: string,
    code: ErrorCode = 'E_USAGE',
    readonly exitCode: typeof EXIT_TROUBLE | typeof EXIT_RETRY = EXIT_TROUBLE,
  ) {
    super(code, message);
    this.name = 'CliError';
  }
}
