/** Exit codes of DESIGN.md: 0 nothing matched --fail-on, 1 a call matched, 2 usage/input/privilege problem. */
export const EXIT_OK = 0;
export const EXIT_MATCHED = 1;
export const EXIT_TROUBLE = 2;

/** An error the CLI reports as one line (no stack) and exits 2. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly code = 'E_USAGE',
  ) {
    super(message);
    this.name = 'CliError';
  }
}
