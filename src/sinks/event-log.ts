import pino, { type Logger } from 'pino';
import type { ImdsEvent } from '../imds/event.js';
import { RotatingFile } from './rotating-file.js';
import { containerLabel } from '../ledger/container-label.js';
import { logText } from '../text/sanitize.js';
import { readHostIdentity, type HostIdentity } from '../readiness/host-identity.js';
import { isOwnProbe } from '../ledger/ledger.js';

/**
 * The daemon's event log: one pino JSON line per IMDS request, to a rotating file and
 * to stdout (journald). IMDSv1 at warn, IMDSv2 and token at info, unattributed calls
 * and lost data at error. Each line carries `host: {name, instanceId}` (fleet reports)
 * and a `msg` saying who did what. Under systemd (JOURNAL_STREAM set) stdout lines start
 * with the syslog priority `<N>` that journald's stream reader takes as the priority, so
 * `journalctl -p warning` finds the IMDSv1 calls. Only event fields are logged: never
 * headers, bodies, tokens.
 */
export interface EventLogOptions {
  file: string | null;
  maxBytes: number;
  maxFiles: number;
  stdout: boolean;
  /** which host this is (default: the host name and the DMI asset tag's instance id) */
  host?: HostIdentity;
  /** prefix stdout lines with `<N>` (default: when JOURNAL_STREAM is set, i.e. stdout is the journal) */
  journald?: boolean;
  /** where stdout lines go (tests) */
  writeStdout?: (s: string) => void;
}

/** pino level number → syslog priority (journald): trace/debug 7, info 6, warn 4, error 3, fatal 2 */
export function journalPriority(pinoLevel: number): number {
  if (pinoLevel >= 60) return 2;
  if (pinoLevel >= 50) return 3;
  if (pinoLevel >= 40) return 4;
  if (pinoLevel >= 30) return 6;
  return 7;
}

const LEVEL_OF: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };

/** `<N>` before every line of a pino chunk, from its "level" field */
export function withJournalPrefix(chunk: string): string {
  const m = /"level":(?:"(\w+)"|(\d+))/.exec(chunk);
  const level = m ? (m[2] ? Number(m[2]) : (LEVEL_OF[m[1]] ?? 30)) : 30;
  return `<${journalPriority(level)}>${chunk}`;
}

/**
 * The journal shows a line's start: pino writes `msg` last, after ~1 KB of event fields, so
 * a journald line gets it moved to the front (`{"msg":"…","level":…}`). The value is moved
 * as pino escaped it; a chunk without a trailing `msg` is left as it is.
 */
export function withMsgFirst(chunk: string): string {
  const m = /,"msg":("(?:[^"\\]|\\.)*")\}(\n?)$/.exec(chunk);
  if (!m || !chunk.startsWith('{')) return chunk;
  return `{"msg":${m[1]},${chunk.slice(1, m.index)}}${m[2]}`;
}

const MAX_MSG_PATH = 120;

/** no query string (a path is request data), no space; controls visible, cut and marked (docs/design.md#sanitizer) */
const pathText = (path: string) => logText(path.split('?')[0], MAX_MSG_PATH).replace(/ /g, '%20');

const clean = (s: string, max = 80) => logText(s, max);

/** "IMDSv1 GET /latest/meta-data/ by /usr/bin/curl (cron.service, user alice)" */
export function eventMessage(ev: ImdsEvent): string {
  const what =
    ev.version === 'v1'
      ? `IMDSv1 ${clean(ev.method, 10)} ${pathText(ev.path)}${ev.status === 401 ? ' rejected with 401 (IMDSv2 is required)' : ''}`
      : ev.version === 'token'
        ? 'IMDSv2 token request'
        : `IMDSv2 ${clean(ev.method, 10)} ${pathText(ev.path)}`;
  const p = ev.process;
  if (!p) return `${what} by ${ev.client.ip} (process not attributed${ev.userAgent ? `, User-Agent ${clean(ev.userAgent, 60)}` : ''})`;
  const ctx = [p.unit, containerLabel(ev) ? `container ${containerLabel(ev)}` : null, p.user ? `user ${p.user}` : p.uid !== null ? `uid ${p.uid}` : null]
    .filter((x): x is string => !!x)
    .map((x) => clean(x, 60));
  return `${what} by ${clean(p.exe ?? `pid ${p.pid}`, 100)}${ctx.length ? ` (${ctx.join(', ')})` : ''}`;
}

let lastSec = NaN;
let lastSecText = '';

/**
 * pino's `stdTimeFunctions.isoTime`, the same text (`,"time":"2026-12-07T07:02:03.123Z"`),
 * without a Date and its ISO text per line: the second's text is kept and the milliseconds
 * added (docs/design.md#metric-tallies).
 */
export function isoTimeField(now = Date.now()): string {
  const sec = Math.floor(now / 1000);
  if (sec !== lastSec) {
    lastSec = sec;
    lastSecText = new Date(sec * 1000).toISOString().slice(0, 19);
  }
  const ms = now - sec * 1000;
  return `,"time":"${lastSecText}.${ms < 10 ? '00' : ms < 100 ? '0' : ''}${ms}Z"`;
}

export class EventLog {
  readonly logger: Logger;
  private readonly file: RotatingFile | null;
  private readonly host: HostIdentity;

  constructor(opts: EventLogOptions, onFileError?: (msg: string) => void) {
    this.host = opts.host ?? readHostIdentity();
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
    if (opts.stdout) {
      const out = opts.writeStdout ?? ((s: string) => process.stdout.write(s));
      const journald = opts.journald ?? !!process.env.JOURNAL_STREAM;
      streams.push({ level: 'info', stream: { write: journald ? (s: string) => out(withJournalPrefix(withMsgFirst(s))) : out } });
    }
    this.logger = pino(
      { base: { app: 'imdswatch' }, timestamp: isoTimeField, formatters: { level: (label) => ({ level: label }) } },
      pino.multistream(streams),
    );
    fileErrorLogger = (m) => {
      this.logger.error({ kind: 'log-file' }, m);
      onFileError?.(m);
    };
  }

  /**
   * IMDSv1 at warn, and at error when IMDS answered 401 (IMDSv2 is required: that software
   * is broken now, `journalctl -p err` shows it) or the call was not attributed.
   * `imdswatch doctor`'s own probe is marked (`ownProbe: true`, "imdswatch doctor's own
   * probe: …") at info: it is left out of the report and the metrics.
   */
  event(ev: ImdsEvent): void {
    if (isOwnProbe(ev)) {
      this.logger.info({ kind: 'imds-request', ownProbe: true, host: this.host, event: ev }, `imdswatch doctor's own probe: ${eventMessage(ev)}`);
      return;
    }
    const fields = { kind: 'imds-request', host: this.host, event: ev };
    const msg = eventMessage(ev);
    if (ev.attribution === 'none' || (ev.version === 'v1' && ev.status === 401)) this.logger.error(fields, msg);
    else if (ev.version === 'v1') this.logger.warn(fields, msg);
    else this.logger.info(fields, msg);
  }

  reopen(): void {
    this.file?.reopen();
  }

  /** write the file's pending lines now (they are batched for up to FLUSH_MS) */
  flush(): void {
    this.file?.flush();
  }

  get droppedLines(): number {
    return this.file?.dropped ?? 0;
  }

  close(): void {
    this.file?.close();
  }
}
