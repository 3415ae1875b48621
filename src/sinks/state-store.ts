import { existsSync, renameSync } from 'node:fs';
import { readNoFollow, writeFileAtomic, writeFileAtomicAsync } from '../files/safe-file.js';
import { readHostIdentity, type HostIdentity } from '../readiness/host-identity.js';
import { emptyState, parseState, type DaemonState } from '../ledger/ledger.js';
import { refreshEntryTexts, stateText, stateTextParts } from '../ledger/state-text.js';

/**
 * The state file's I/O: load (a corrupt file is moved aside and rebuilt, never fatal) and
 * atomic save (temp file + rename). What the state holds, its fold and its parse are the
 * ledger's (src/ledger/ledger.ts, docs/design.md#ledger).
 */
// the ledger's names, for callers that import them from here (new code imports src/ledger)
export {
  STATE_FORMAT,
  STATE_LIMITS,
  DOCTOR_PROBE_USER_AGENT,
  emptyState,
  isOwnProbe,
  parseState,
  recordEvent,
  softwareKey,
  openWindow,
  touchWindow,
  type WindowStart,
  type DaemonState,
  type ObservationWindow,
  type SoftwareEntry,
  type UnwatchedConnections,
} from '../ledger/ledger.js';

export type LoadResult = { state: DaemonState; note: string | null };

/** Load, or start fresh. A corrupt file is renamed to `<path>.corrupt-<time>` and a note says so. */
export function loadState(path: string, host: string, bootId: string | null, nowIso: string, identity: () => HostIdentity = () => readHostIdentity(undefined, host)): LoadResult {
  const r = loadStateFile(path, host, bootId, nowIso);
  // which host this is, for fleet reports: name and, on Nitro, the instance id
  const id = identity();
  r.state.host = id.name;
  r.state.instanceId = id.instanceId;
  return r;
}

function loadStateFile(path: string, host: string, bootId: string | null, nowIso: string): LoadResult {
  if (!existsSync(path)) return { state: emptyState(host, bootId), note: null };
  let text: string;
  try {
    text = readNoFollow(path);
  } catch (err) {
    return { state: emptyState(host, bootId), note: `cannot read state ${path} (${(err as NodeJS.ErrnoException).code}); starting a new one` };
  }
  const parsed = parseState(text);
  if (parsed) {
    parsed.bootId = bootId;
    return { state: parsed, note: null };
  }
  const aside = `${path}.corrupt-${nowIso.replace(/[:.]/g, '')}`;
  try {
    renameSync(path, aside);
  } catch {
    /* leave it; it will be overwritten */
  }
  return { state: emptyState(host, bootId), note: `state file ${path} was corrupt; moved to ${aside} and started a new one` };
}

/** Atomic save: write a temp file, fsync, rename. */
export function saveState(path: string, state: DaemonState): void {
  // a random temporary name (O_EXCL, never through a symlink) in a directory only we can write (src/files/safe-file.ts)
  writeFileAtomic(path, `${JSON.stringify(state)}\n`);
}

/**
 * The daemon's saves, off the event loop's critical path (capture and SYN gate verdicts run
 * there; docs/design.md#state-save): only the entries that changed since the last save are serialised
 * (src/ledger/state-text.ts), stale ones in slices of `sliceMs` between event-loop turns,
 * and the file is written and fsynced by the thread pool, then renamed into place (never a
 * half-written file). The text is the same as saveState's. The state must change only through
 * the ledger (recordEvent, touchWindow, the drops counters): that is what marks entries stale.
 */
export class StateSaver {
  private running: Promise<void> | null = null;
  private again = false;
  private closed = false;

  constructor(
    private readonly path: string,
    private readonly state: DaemonState,
    private readonly onError: (err: unknown) => void,
    private readonly sliceMs = 4,
  ) {}

  /** save soon; a request while a save runs makes one more save after it (never two at once) */
  request(): void {
    if (this.closed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.run();
  }

  private async run(): Promise<void> {
    do {
      this.again = false;
      try {
        while (!refreshEntryTexts(this.state, this.sliceMs)) await new Promise<void>((r) => setImmediate(r));
        // the snapshot is taken in one turn: what changed during the slices is serialised here
        const parts = stateTextParts(this.state);
        parts.push(Buffer.from('\n'));
        await writeFileAtomicAsync(this.path, parts);
      } catch (err) {
        this.onError(err);
      }
    } while (this.again && !this.closed);
    this.running = null;
  }

  /** resolves when no save is running (including one requested while the last one ran) */
  async flush(): Promise<void> {
    while (this.running) await this.running;
  }

  /** the last save (at stop): waits for the one running, then writes the state synchronously */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
    try {
      writeFileAtomic(this.path, `${stateText(this.state)}\n`);
    } catch (err) {
      this.onError(err);
    }
  }
}
