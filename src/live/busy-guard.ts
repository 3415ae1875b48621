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
 * could not be read. Within a window a key may use at most `cap / (keys + 1)` of the lookup
 * time (`cap` = maxShare × windowMs; `keys` = the keys that asked this window, itself
 * included): a key alone gets half the cap and the other half stays free for whoever comes
 * next, and a flooding key is cut further as others ask. A key's first lookup in a window
 * always runs (another user's call is looked up whatever the flooder spent); later ones stop
 * at the ceiling, `ceilingShare` × cap. One flooding uid is shed first.
 *
 * Windows restart after every idle gap, and a daemon short of CPU (descheduled between two
 * callbacks) sees gaps everywhere: measured under a flood on a loaded host, the flooder's
 * "first lookup of a window" ran again and again and its lookups took 7.6 of 16 CPU-seconds
 * while root's SYNs waited behind them. So each key also keeps its lookup time over the last
 * `horizonMs` (decaying): a key whose back-to-back lookups took more than `keyShare` ×
 * maxShare of that horizon is shed while its SYNs keep arriving back to back, whatever the
 * window — if no other key asked for more lookups lately (a daemon short of CPU inflates
 * every key's wall-clock lookup time, not how often each asks). A one-at-a-time client is never charged (its lookups start
 * after an idle gap).
 */
export interface BusyGuardOptions {
  maxShare: number;
  windowMs: number;
  idleGapMs: number;
  /** past a key's first lookup in a window, lookups stop once this multiple of the cap has been spent (default 1.5) */
  ceilingShare: number;
  /** the horizon of each key's decaying lookup time (default 1000 ms) */
  horizonMs: number;
  /** most share of maxShare one key's back-to-back lookups may take over the horizon (default 0.5) */
  keyShare: number;
}

export const DEFAULT_BUSY_GUARD: BusyGuardOptions = { maxShare: 0.25, windowMs: 100, idleGapMs: 2, ceilingShare: 1.5, horizonMs: 1000, keyShare: 0.5 };

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
  /** back-to-back lookup time per key, decaying over horizonMs (ms at time `at`) */
  private readonly recent = new Map<number, { ms: number; at: number }>();
  /** lookups asked per key (allowed or shed), decaying over horizonMs */
  private readonly asked = new Map<number, { n: number; at: number }>();
  /** the lookup allowed last started back to back */
  private backToBack = false;
  /** lookups refused */
  shed = 0;

  constructor(o: Partial<BusyGuardOptions> = {}) {
    this.o = { ...DEFAULT_BUSY_GUARD, ...o };
  }

  /** may a lookup charged to `key` start at `now` (performance.now())? false counts one shed */
  allow(now: number = performance.now(), key: number = UNKNOWN_KEY): boolean {
    this.backToBack = now - this.lastEnd <= this.o.idleGapMs;
    this.countAsk(key, now);
    if (this.backToBack && this.recentMs(key, now) >= this.o.keyShare * this.o.maxShare * this.o.horizonMs && this.heaviest(key, now)) {
      this.shed++;
      this.lastEnd = now;
      return false;
    }
    if (now - this.windowStart >= this.o.windowMs || now - this.lastEnd > this.o.idleGapMs) {
      this.windowStart = now;
      this.busyMs = 0;
      this.used.clear();
    }
    const cap = this.o.maxShare * this.o.windowMs;
    const mine = this.used.get(key);
    if (mine === undefined) {
      this.used.set(key, 0);
      return true;
    }
    if (mine >= cap / (this.used.size + 1) || this.busyMs >= cap * this.o.ceilingShare) {
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
    if (this.backToBack) {
      const r = this.recent.get(key);
      if (r) {
        r.ms = this.recentMs(key, end) + ms;
        r.at = end;
      } else {
        if (this.recent.size >= 4096) this.forgetIdle(end);
        this.recent.set(key, { ms, at: end });
      }
    }
    this.lastEnd = end;
  }

  /** a key's back-to-back lookup time over the horizon, decayed to `now` */
  private recentMs(key: number, now: number): number {
    const r = this.recent.get(key);
    return r ? r.ms * Math.exp(-Math.max(0, now - r.at) / this.o.horizonMs) : 0;
  }

  /**
   * no other key asked for more lookups lately (decaying count over the horizon): a daemon
   * short of CPU inflates every key's wall-clock lookup time, but not how often each asks;
   * the flooder is shed, not its victims
   */
  private heaviest(key: number, now: number): boolean {
    const mine = this.askedRecently(key, now);
    for (const k of this.asked.keys()) if (k !== key && this.askedRecently(k, now) > mine) return false;
    return true;
  }

  private askedRecently(key: number, now: number): number {
    const a = this.asked.get(key);
    return a ? a.n * Math.exp(-Math.max(0, now - a.at) / this.o.horizonMs) : 0;
  }

  private countAsk(key: number, now: number): void {
    const a = this.asked.get(key);
    if (a) {
      a.n = this.askedRecently(key, now) + 1;
      a.at = now;
    } else {
      if (this.asked.size >= 4096) {
        for (const k of this.asked.keys()) if (this.askedRecently(k, now) < 0.5) this.asked.delete(k);
        if (this.asked.size >= 4096) this.asked.clear();
      }
      this.asked.set(key, { n: 1, at: now });
    }
  }

  private forgetIdle(now: number): void {
    for (const k of this.recent.keys()) if (this.recentMs(k, now) < 0.01) this.recent.delete(k);
    if (this.recent.size >= 4096) this.recent.clear();
  }

  /** other event-loop work ended now (keeps the idle-gap clock honest) */
  touch(now: number = performance.now()): void {
    this.lastEnd = now;
  }
}
