/**
 * The live stage's overload guard: /proc lookups run on the event loop that also reads the
 * capture and the gate's queue, so under a flood they must not take all of it. A lookup may
 * start while less than `maxShare` of the current `windowMs` window went to lookups; past
 * that, work is shed (the caller answers at once, unattributed) until the window ends.
 *
 * A window only accumulates while work arrives back to back: a caller that comes after more
 * than `idleGapMs` without work starts a new window, so one-at-a-time clients are never
 * shed, however slow /proc is. Short windows keep each stall short.
 */
export interface BusyGuardOptions {
  maxShare: number;
  windowMs: number;
  idleGapMs: number;
}

export const DEFAULT_BUSY_GUARD: BusyGuardOptions = { maxShare: 0.25, windowMs: 100, idleGapMs: 2 };

export class BusyGuard {
  private readonly o: BusyGuardOptions;
  private windowStart = -Infinity;
  private busyMs = 0;
  private lastEnd = -Infinity;
  /** lookups refused */
  shed = 0;

  constructor(o: Partial<BusyGuardOptions> = {}) {
    this.o = { ...DEFAULT_BUSY_GUARD, ...o };
  }

  /** may a lookup start at `now` (performance.now())? false counts one shed */
  allow(now: number = performance.now()): boolean {
    if (now - this.windowStart >= this.o.windowMs || now - this.lastEnd > this.o.idleGapMs) {
      this.windowStart = now;
      this.busyMs = 0;
    }
    if (this.busyMs >= this.o.maxShare * this.o.windowMs) {
      this.shed++;
      this.lastEnd = now;
      return false;
    }
    return true;
  }

  /** the lookup allowed at `start` ended at `end` */
  done(start: number, end: number = performance.now()): void {
    this.busyMs += end - start;
    this.lastEnd = end;
  }

  /** other event-loop work ended now (keeps the idle-gap clock honest) */
  touch(now: number = performance.now()): void {
    this.lastEnd = now;
  }
}
