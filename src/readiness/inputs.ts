import { ImdswatchError } from '../errors/catalogue.js';
import { readFileSync, existsSync } from 'node:fs';
import { basename } from 'node:path';
import type { ImdsEvent } from '../imds/event.js';
import { emptyState, parseState, recordEvent, type DaemonState } from '../sinks/state-store.js';

/**
 * Inputs of `imdswatch report`: the daemon's state file, or NDJSON event files
 * (`replay --format ndjson`, or the daemon's log whose lines carry `event`), one per
 * host. A file's host is its state's `host`, an event's `host` field, or its name.
 */
export interface HostState {
  host: string;
  state: DaemonState;
  source: string;
  /** lines that were not events (counted, not fatal) */
  skippedLines: number;
}

export function loadReportInput(path: string): HostState {
  if (!existsSync(path)) throw new ImdswatchError('E_INPUT_NOT_FOUND', `${path}: no such file`); // a catalogue code, not a faked ENOENT (#13)
  const text = readFileSync(path, 'utf8');
  const asState = text.trimStart().startsWith('{"format"') || text.trimStart().startsWith('{\n') ? parseState(text) : null;
  if (asState) return { host: asState.host, state: asState, source: path, skippedLines: 0 };
  let host = basename(path).replace(/\.(ndjson|jsonl|json|log)(\.\d+)?$/, '');
  const state = emptyState(host, null);
  let skipped = 0;
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
    const o = obj as { event?: ImdsEvent; host?: string; hostname?: string } & Partial<ImdsEvent>;
    const ev = (o.event ?? o) as ImdsEvent;
    if (!ev || typeof ev.ts !== 'string' || !['v1', 'v2', 'token'].includes(ev.version as string) || !ev.client) {
      skipped++;
      continue;
    }
    if (typeof o.host === 'string') host = o.host;
    ev.reason ??= null;
    ev.attribution ??= 'none';
    ev.process ??= null;
    ev.sdk ??= null;
    ev.userAgent ??= null;
    recordEvent(state, ev);
    if (!first || ev.ts < first) first = ev.ts;
    if (!last || ev.ts > last) last = ev.ts;
  }
  state.host = host;
  // an event file says when calls happened, not how long capture ran: first to last event
  if (first && last) state.windows.push({ start: first, end: last, bootId: null });
  return { host, state, source: path, skippedLines: skipped };
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
