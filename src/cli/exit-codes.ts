import { ImdswatchError, type ErrorCode } from '../errors/catalogue.js';

/** Exit codes (docs/design.md#exit-codes): 0 nothing matched --fail-on, 1 a call matched, 2 usage/input/privilege problem. */
export const EXIT_OK = 0;
export const EXIT_MATCHED = 1;
export const EXIT_TROUBLE = 2;

/** An error the CLI reports as one line (no stack) and exits 2; its code is from docs/errors.md. */
export class CliError extends ImdswatchError {
  constructor(message: string, code: ErrorCode = 'E_USAGE') {
    super(code, message);
    this.name = 'CliError';
  }
}
