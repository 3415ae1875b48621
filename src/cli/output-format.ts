import { CliError } from './exit-codes.js';

export type ReportFormat = 'text' | 'json' | 'ndjson';

export function parseFormat(value: string): ReportFormat {
  if (value === 'text' || value === 'json' || value === 'ndjson') return value;
  throw new CliError(`--format takes text, json or ndjson, not "${value}"`);
}
