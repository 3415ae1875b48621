/**
 * The live stage's overload guard: /proc lookups run on the event loop that also reads the
 * capture and the gate's queue, so under a flood they must not take all of it. A lookup may
 * start while less than `maxShare` of the current `windowMs` window went to lookups; past
 * that, work is shed (the caller answers at once, unattributed) until the window ends.
 *
 * A window only accumulates while work arrives back to back: a caller that comes after more
 * than `idleGapMs` without work starts a new window, so one-at-a-time clients are never
 * shed, however slow /proc is. Short windows keep each stall short.
 *
 * Fairness between users (docs/design.md#syn-gate): each lookup is charged to a key — the
 * socket's uid for the gate, `PASSIVE_KEY` for passive lookups, `UNKNOWN_KEY` when the uid
 * could not be read. Within a window a key may use at most `cap / keys` of the lookup time
 * (`cap` = maxShare × windowMs; `keys` = the keys that asked this window, itself included),
 * so a key alone gets the whole cap, as before, and a flooding key is shed as soon as
 * another asks. The other keys keep their share even when the flooder already spent the
 * cap: lookups stop only at the ceiling, `ceilingShare` × cap. One flooding uid is shed
 * first; another user's calls are still looked up.
 */
export interface BusyGuardOptions {
  maxShare: number;
  windowMs: number;
  idleGapMs: number;
  /** under their fair share, keys may still start lookups until this multiple of the cap has been spent (default 1.5) */
  ceilingShare: number;
}

export const DEFAULT_BUSY_GUARD: BusyGuardOptions = { maxShare: 0.25, windowMs: 100, idleGapMs: 2, ceilingShare: 1.5 };

/** the key of a lookup whose socket's uid is unknown (no sock_diag, a socket in another namespace) */
export const UNKNOWN_KEY = -1;
/** the key of the passive lookups (src/live/attribution.ts) */
export const PASSIVE_KEY = -2;

export class BusyGuard {
  private readonly o: BusyGuardOptions;
  private windowStart = -Infinity;
  private busyMs = 0;
  private lastEnd = -Infinity;
  /** lookup time per key in the current window */
  private readonly used = new Map<number, number>();
  /** lookups refused */
  shed = 0;

  constructor(o: Partial<BusyGuardOptions> = {}) {
    this.o = { ...DEFAULT_BUSY_GUARD, ...o };
  }

  /** may a lookup charged to `key` start at `now` (performance.now())? false counts one shed */
  allow(now: number = performance.now(), key: number = UNKNOWN_KEY): boolean {
    if (now - this.windowStart >= this.o.windowMs || now - this.lastEnd > this.o.idleGapMs) {
      this.windowStart = now;
      this.busyMs = 0;
      this.used.clear();
    }
    const cap = this.o.maxShare * this.o.windowMs;
    const mine = this.used.get(key);
    if (mine === undefined) this.used.set(key, 0);
    if ((mine ?? 0) >= cap / this.used.size || this.busyMs >= cap * this.o.ceilingShare) {
      this.shed++;
      this.lastEnd = now;
      return false;
    }
    return true;
  }

  /** the lookup allowed at `start` (charged to `key`) ended at `end` */
  done(start: number, end: number = performance.now(), key: number = UNKNOWN_KEY): void {
    const ms = end - start;
    this.busyMs += ms;
    this.used.set(key, (this.used.get(key) ?? 0) + ms);
    this.lastEnd = end;
  }

  /** other event-loop work ended now (keeps the idle-gap clock honest) */
  touch(now: number = performance.now()): void {
    this.lastEnd = now;
  }
}
