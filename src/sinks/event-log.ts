import pino, { type Logger } from 'pino';
import type { ImdsEvent } from '../imds/event.js';
import { RotatingFile } from './rotating-file.js';

/**
 * The daemon's event log: one pino JSON line per IMDS request, to a rotating file and
 * to stdout (journald). IMDSv1 at warn, IMDSv2 and token at info, unattributed calls
 * and lost data at error. Only event fields are logged: never headers, bodies, tokens.
 */
export interface EventLogOptions {
  file: string | null;
  maxBytes: number;
  maxFiles: number;
  stdout: boolean;
}

export class EventLog {
  readonly logger: Logger;
  private readonly file: RotatingFile | null;

  constructor(opts: EventLogOptions, onFileError?: (msg: string) => void) {
    const streams: pino.StreamEntry[] = [];
    let fileErrorLogger: ((msg: string) => void) | null = null;
    this.file = opts.file
      ? new RotatingFile({
          path: opts.file,
          maxBytes: opts.maxBytes,
          maxFiles: opts.maxFiles,
          onError: (m) => (fileErrorLogger ? fileErrorLogger(m) : process.stderr.write(`imdswatch: ${m}\n`)),
        })
      : null;
    if (this.file) {
      const f = this.file;
      streams.push({ level: 'info', stream: { write: (s: string) => f.write(s) } });
    }
    if (opts.stdout) streams.push({ level: 'info', stream: { write: (s: string) => process.stdout.write(s) } });
    this.logger = pino(
      { base: { app: 'imdswatch' }, timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: (label) => ({ level: label }) } },
      pino.multistream(streams),
    );
    fileErrorLogger = (m) => {
      this.logger.error({ kind: 'log-file' }, m);
      onFileError?.(m);
    };
  }

  event(ev: ImdsEvent): void {
    const fields = { kind: 'imds-request', event: ev };
    const what =
      ev.version === 'v1' ? (ev.status === 401 ? 'IMDSv1 call rejected (IMDSv2 is required)' : 'IMDSv1 call') : ev.version === 'token' ? 'IMDSv2 token request' : 'IMDSv2 call';
    if (ev.attribution === 'none') this.logger.error(fields, `${what}, process not attributed`);
    else if (ev.version === 'v1') this.logger.warn(fields, what);
    else this.logger.info(fields, what);
  }

  reopen(): void {
    this.file?.reopen();
  }

  get droppedLines(): number {
    return this.file?.dropped ?? 0;
  }

  close(): void {
    this.file?.close();
  }
}
