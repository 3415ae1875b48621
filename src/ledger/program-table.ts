import type { ImdsEvent } from '../imds/event.js';
import { mergeEntry, newEntry } from './entry.js';
import { entryChanged } from './state-text.js';
import { STATE_LIMITS, type DaemonState, type OverflowBucket, type SoftwareEntry } from './types.js';

/**
 * The program table's bounds (docs/design.md#program-table). At most `maxSoftware` programs
 * are kept one by one, at most `maxSoftwarePerOwner` of them per owner (a uid), so one user
 * running thousands of distinct executables cannot push other users' programs out. What does
 * not fit goes to its owner's overflow bucket with every count, so no bound drops an IMDSv1
 * call: a bucket holding v1 calls is a finding like any program. An IMDSv1 caller is kept by
 * name when its owner still has a program that never called without a token: that one is
 * displaced into the bucket instead.
 */

/** whose share a call takes: its uid; "uid unknown" (a process without uid); "unattributed" (no process) */
export function ownerOf(ev: ImdsEvent): string {
  if (!ev.process) return 'unattributed';
  return ev.process.uid !== null && ev.process.uid !== undefined ? `uid ${ev.process.uid}` : 'uid unknown';
}

const ownerOfEntry = (e: SoftwareEntry) => e.owner ?? 'unknown';
/** the bucket of owners past maxOverflowOwners */
export const OTHER_OWNERS = 'other owners';

interface OwnerCount {
  entries: number;
  /** entries without an IMDSv1 call: the ones a v1 caller may displace */
  clean: number;
}

/** per state: entries per owner, kept in step by this module (every change of `software` goes through here or recordEvent) */
const index = new WeakMap<DaemonState, { owners: Map<string, OwnerCount>; total: number }>();

function indexOf(state: DaemonState) {
  let ix = index.get(state);
  if (!ix) {
    ix = { owners: new Map(), total: 0 };
    for (const e of Object.values(state.software)) count(ix, ownerOfEntry(e), e.v1 === 0, 1);
    index.set(state, ix);
  }
  return ix;
}

function count(ix: { owners: Map<string, OwnerCount>; total: number }, owner: string, clean: boolean, d: number): void {
  const c = ix.owners.get(owner) ?? { entries: 0, clean: 0 };
  c.entries += d;
  if (clean) c.clean += d;
  ix.total += d;
  if (c.entries <= 0) ix.owners.delete(owner);
  else ix.owners.set(owner, c);
}

/** an entry that had no IMDSv1 call got one (recordEvent tells the index) */
export function noteFirstV1(state: DaemonState, entry: SoftwareEntry): void {
  const c = index.get(state)?.owners.get(ownerOfEntry(entry));
  if (c && c.clean > 0) c.clean--;
}

function bucketFor(state: DaemonState, owner: string, ts: string): OverflowBucket {
  const buckets = (state.overflow ??= {});
  let key = owner;
  if (!buckets[key] && Object.keys(buckets).length >= STATE_LIMITS.maxOverflowOwners) key = OTHER_OWNERS;
  let b = buckets[key];
  if (!b) {
    const base = newEntry({ ts, version: 'v2', process: null, userAgent: null, sdk: null } as unknown as ImdsEvent, key);
    b = buckets[key] = { ...base, exe: null, unit: null, container: null, owner: key, displaced: 0, examples: [] };
  }
  return b;
}

const nameOf = (e: { exe: string | null; userAgent: string | null; container: string | null }) =>
  e.exe ? (e.container ? `${e.exe} (${e.container})` : e.exe) : e.userAgent ? `User-Agent "${e.userAgent.slice(0, 100)}"` : '(no User-Agent)';

function addExample(b: OverflowBucket, name: string): void {
  if (b.examples.length < STATE_LIMITS.maxExamplesPerBucket && !b.examples.includes(name)) b.examples.push(name);
}

/** move the least recently seen entry of `owner` (clean ones only, unless `anyEntry`) into its bucket; false when there is none */
function displace(state: DaemonState, owner: string, anyEntry: boolean): boolean {
  let victimKey: string | null = null;
  let victim: SoftwareEntry | null = null;
  for (const [k, e] of Object.entries(state.software)) {
    if (ownerOfEntry(e) !== owner || (!anyEntry && e.v1 > 0)) continue;
    if (!victim || e.lastSeen < victim.lastSeen) {
      victim = e;
      victimKey = k;
    }
  }
  if (!victim || victimKey === null) return false;
  delete state.software[victimKey];
  count(indexOf(state), owner, victim.v1 === 0, -1);
  const b = bucketFor(state, owner, victim.firstSeen);
  mergeEntry(b, victim);
  b.displaced++;
  addExample(b, nameOf(victim));
  entryChanged(b);
  return true;
}

/** the owner with the most entries (ties: the first found) */
function largestOwner(state: DaemonState): string | null {
  let best: string | null = null;
  let n = -1;
  for (const [o, c] of indexOf(state).owners) if (c.entries > n) (best = o), (n = c.entries);
  return best;
}

/**
 * The entry an event of a program not in the table is folded into: a new entry (room made
 * if the event is an IMDSv1 call or the owner is under its share), or the owner's bucket.
 */
export function entryFor(state: DaemonState, key: string, ev: ImdsEvent): { entry: SoftwareEntry; bucket: boolean } {
  const ix = indexOf(state);
  const owner = ownerOf(ev);
  const mine = ix.owners.get(owner)?.entries ?? 0;
  const v1 = ev.version === 'v1';
  let room = false;
  if (mine >= STATE_LIMITS.maxSoftwarePerOwner) {
    // over its share: only an IMDSv1 caller gets in, in place of one of the owner's clean programs
    room = v1 && (ix.owners.get(owner)?.clean ?? 0) > 0 && displace(state, owner, false);
  } else if (ix.total >= STATE_LIMITS.maxSoftware) {
    // the table is full and this owner is under its share: the largest owner gives way
    const big = largestOwner(state);
    if (big !== null && big !== owner) room = displace(state, big, false) || (v1 && displace(state, big, true));
    else room = v1 && displace(state, owner, false);
  } else room = true;
  if (room) {
    const e = (state.software[key] = newEntry(ev, owner));
    count(ix, owner, true, 1);
    return { entry: e, bucket: false };
  }
  const b = bucketFor(state, owner, ev.ts);
  addExample(b, nameOf({ exe: ev.process?.exe ?? null, userAgent: ev.userAgent, container: null }));
  entryChanged(b);
  return { entry: b, bucket: true };
}

/** forget the index of a state (after its `software` was replaced wholesale) */
export function resetIndex(state: DaemonState): void {
  index.delete(state);
}
