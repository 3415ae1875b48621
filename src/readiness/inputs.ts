import { readFileSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import type { ImdsEvent } from '../imds/event.js';
import { emptyState, parseState, recordEvent, type DaemonState } from '../ledger/ledger.js';
import { eventOf } from './event-line.js';

/**
 * Inputs of `imdswatch report`: the daemon's state file, or NDJSON event files
 * (`replay --format ndjson`, or the daemon's log whose lines carry `event`), one per
 * host. A file's host is its state's `host`, an event line's `host` ({name, instanceId}
 * or a name), or the file's name. Event files are cut to the `--since` window event by
 * event (exact); a state file is windowed later from its per-hour counts.
 */
export interface HostState {
  host: string;
  state: DaemonState;
  source: string;
  /** lines that were not events (counted, not fatal); the daemon's own log lines are not counted here */
  skippedLines: number;
  /** (additive) the daemon's own log lines (start, stop, loss, metrics: app "imdswatch", a kind other than imds-request): expected in its log, not noise */
  daemonLines?: number;
  /** an event file: observation is first to last event, the window is exact */
  fromEvents: boolean;
  /** the running daemon's own state: a window not extended lately is a gap up to now */
  live?: boolean;
  /** per-minute counts (event files), for a timeline under an hour */
  minutes?: Map<string, { v1: number; v2: number; token: number }>;
}

/** what to say when the file is there but this user may not read it */
export const RUN_AS_ROOT = 'run as root (or as the imdswatch user)';

export class ReportInputError extends Error {
  constructor(
    message: string,
    readonly code: 'ENOENT' | 'EACCES' | 'EREAD',
  ) {
    super(message);
  }
}

function readInput(path: string): string {
  try {
    // stat first: a file inside an unreadable directory is not "missing"
    statSync(path);
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new ReportInputError(`${path}: no such file`, 'ENOENT');
    if (code === 'EACCES' || code === 'EPERM') throw new ReportInputError(`${path}: permission denied — ${RUN_AS_ROOT}`, 'EACCES');
    throw new ReportInputError(`${path}: cannot read (${code ?? (err as Error).message})`, 'EREAD');
  }
}

/** a line of the daemon's own log that is not a request (docs/design.md#since-windows): not an event, not noise */
function isDaemonLine(o: unknown): boolean {
  const l = o as { app?: unknown; kind?: unknown } | null;
  return !!l && typeof l === 'object' && l.app === 'imdswatch' && l.kind !== 'imds-request';
}

/** the loss a daemon log line reports (src/cli/daemon-command.ts: missed SYNs, unread IMDS packets, request gap bytes, evicted flows) */
function lossOf(o: Record<string, unknown>, drops: DaemonState['drops']): void {
  const n = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : 0);
  drops.pcap = Math.max(drops.pcap, n(o.missedSyns));
  drops.imdsUnread = Math.max(drops.imdsUnread ?? 0, n(o.imdsUnread));
  drops.requestGapBytes = Math.max(drops.requestGapBytes ?? 0, n(o.requestGapBytes));
  if (o.kind === 'flow-table') drops.flowsEvicted += n(o.evicted);
}

/** at most this many per-minute buckets are kept per file (a week); older minutes only feed the hourly timeline */
const MAX_MINUTES = 7 * 24 * 60;

export function loadReportInput(path: string, since: string | null = null): HostState {
  const text = readInput(path);
  const head = text.trimStart();
  const asState = head.startsWith('{"format"') || head.startsWith('{\n') ? parseState(text) : null;
  if (asState) return { host: asState.host, state: asState, source: path, skippedLines: 0, fromEvents: false };
  let host = basename(path).replace(/\.(ndjson|jsonl|json|log)(\.\d+)?$/, '');
  let instanceId: string | null = null;
  const state = emptyState(host, null);
  const minutes = new Map<string, { v1: number; v2: number; token: number }>();
  let skipped = 0;
  let daemonLines = 0;
  let first: string | null = null;
  let last: string | null = null;
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch {
      skipped++;
      continue;
    }
    const o = obj as { event?: ImdsEvent; host?: string | { name?: unknown; instanceId?: unknown }; hostname?: string } & Partial<ImdsEvent>;
    const raw = (o.event ?? o) as { host?: unknown };
    if (!o.event && isDaemonLine(o)) {
      daemonLines++;
      // its capture-loss lines count as they do in the state: an IMDSv1 call may hide there
      const t = (o as { time?: unknown }).time;
            if (!since || (typeof t === 'string' && t >= since)) lossOf(o as Record<string, unknown>, state.drops);
      continue;
    }
    const ev = eventOf(raw);
    if (!ev) {
      skipped++;
      continue;
    }
    const h = (o.host ?? raw.host) as string | { name?: unknown; instanceId?: unknown } | undefined;
    if (typeof h === 'string') host = h;
    else if (h && typeof h === 'object') {
      if (typeof h.name === 'string') host = h.name;
      if (typeof h.instanceId === 'string') instanceId = h.instanceId;
    }
    // the window is exact for events: anything before --since is not counted at all
    if (since && ev.ts < since) continue;
    recordEvent(state, ev);
    const minute = `${ev.ts.slice(0, 16)}:00Z`;
    const m = minutes.get(minute) ?? (minutes.size < MAX_MINUTES ? { v1: 0, v2: 0, token: 0 } : null);
    if (m) {
      m[ev.version]++;
      minutes.set(minute, m);
    }
    if (!first || ev.ts < first) first = ev.ts;
    if (!last || ev.ts > last) last = ev.ts;
  }
  state.host = host;
  state.instanceId = instanceId;
  // an event file says when calls happened, not how long capture ran: first to last event
  if (first && last) state.windows.push({ start: first, end: last, bootId: null });
  return { host, state, source: path, skippedLines: skipped, daemonLines, fromEvents: true, minutes: minutes.size < MAX_MINUTES ? minutes : undefined };
}

/** `24h`, `7d`, `30m`, `boot`, or an ISO time → ISO time (or null for everything). */
export function parseSince(value: string | undefined, now: Date, bootTime: () => Date | null): string | null {
  if (!value) return null;
  const m = /^(\d+)\s*([smhd])$/.exec(value.trim());
  if (m) {
    const mult = { s: 1, m: 60, h: 3600, d: 86400 }[m[2] as 's' | 'm' | 'h' | 'd'];
    return new Date(now.getTime() - Number(m[1]) * mult * 1000).toISOString();
  }
  if (value === 'boot') {
    const b = bootTime();
    if (!b) throw new Error('cannot tell the boot time (/proc/stat btime)');
    return b.toISOString();
  }
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw new Error(`--since takes 24h, 7d, 30m, boot or an ISO time, not "${value}"`);
  return new Date(t).toISOString();
}

export function bootTimeFromProc(): Date | null {
  try {
    const m = /^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'));
    return m ? new Date(Number(m[1]) * 1000) : null;
  } catch {
    return null;
  }
}
