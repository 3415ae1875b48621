import type { DaemonState, SoftwareEntry } from './types.js';

/**
 * The state file's text, made without re-serialising what did not change (docs/design.md#state-save).
 * A state of 2 000 programs with a month of hourly counts each is ~20 MiB of JSON: stringifying
 * it whole on every save blocked the daemon's event loop (capture, SYN gate verdicts) for
 * hundreds of milliseconds each second. Here each program's entry and each overflow bucket
 * keeps its own JSON text until it changes; every change of an entry goes through
 * `recordEvent` or the program table, which call `entryChanged` (the same rule the program
 * table's owner index relies on). The text is byte for byte `JSON.stringify(state)`.
 */

/** `"key":{…entry…}` as UTF-8 bytes: off the V8 heap, written as they are (no re-encoding, no glue per save) */
interface EntryText {
  key: string;
  bytes: Buffer;
}
const texts = new WeakMap<SoftwareEntry, EntryText>();
const COMMA = Buffer.from(',');
const changed = new WeakSet<SoftwareEntry>();

/** this entry's saved text is stale (an event folded in, an entry merged into a bucket) */
export function entryChanged(e: SoftwareEntry): void {
  changed.add(e);
}

/** the entry's `"key":{…}` text, from the cache when the entry did not change since it was made under this key */
function entryText(key: string, e: SoftwareEntry): Buffer {
  let t = texts.get(e);
  if (t === undefined || t.key !== key || changed.has(e)) {
    t = { key, bytes: Buffer.from(`${JSON.stringify(key)}:${JSON.stringify(e)}`) };
    texts.set(e, t);
    changed.delete(e);
  }
  return t.bytes;
}

/** whether the entry needs serialising (no text yet, or changed) */
const stale = (key: string, e: SoftwareEntry) => texts.get(e)?.key !== key || changed.has(e);

/** the two sections made of entries; every other top-level field is small and made anew each time */
const ENTRY_SECTIONS = new Set(['software', 'overflow']);

/**
 * Bring the cached texts of up to `budgetMs` of stale entries up to date; true when none is
 * left stale. Lets a caller spread the first save after a load (every entry stale) over
 * event-loop turns; `stateText` then only serialises what changed since.
 */
export function refreshEntryTexts(state: DaemonState, budgetMs: number, clock: () => number = performance.now.bind(performance)): boolean {
  const t0 = clock();
  let n = 0;
  for (const section of [state.software, state.overflow ?? {}] as Array<Record<string, SoftwareEntry>>) {
    for (const k of Object.keys(section)) {
      const e = section[k];
      if (e === undefined || !stale(k, e)) continue;
      entryText(k, e);
      // the clock is asked every few entries: an entry takes tens of microseconds
      if ((++n & 7) === 0 && clock() - t0 >= budgetMs) return false;
    }
  }
  return true;
}

/**
 * The state's JSON text (without the trailing newline) as a list of UTF-8 pieces whose
 * concatenation is `JSON.stringify(state)`. Entries are taken from the cache unless changed;
 * the text between them is gathered into one piece per run.
 */
export function stateTextParts(state: DaemonState): Buffer[] {
  const out: Buffer[] = [];
  let glue = '{';
  const rec = state as unknown as Record<string, unknown>;
  let first = true;
  for (const key of Object.keys(rec)) {
    const value = rec[key];
    if (value === undefined || typeof value === 'function' || typeof value === 'symbol') continue;
    glue += `${first ? '' : ','}${JSON.stringify(key)}:`;
    first = false;
    if (ENTRY_SECTIONS.has(key) && value !== null && typeof value === 'object' && !Array.isArray(value)) {
      const section = value as Record<string, SoftwareEntry | undefined>;
      let firstEntry = true;
      glue += '{';
      for (const k of Object.keys(section)) {
        const e = section[k];
        if (e === undefined) continue;
        if (glue !== '') out.push(Buffer.from(glue));
        else if (!firstEntry) out.push(COMMA);
        out.push(entryText(k, e));
        glue = '';
        firstEntry = false;
      }
      glue += '}';
    } else glue += JSON.stringify(value);
  }
  out.push(Buffer.from(`${glue}}`));
  return out;
}

/** `JSON.stringify(state)`, re-using the text of unchanged entries */
export function stateText(state: DaemonState): string {
  return Buffer.concat(stateTextParts(state)).toString('utf8');
}
