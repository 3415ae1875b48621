/**
 * The ledger's time-keyed maps stay within STATE_LIMITS: the state's hourly timeline
 * (maxHours), each entry's hours (maxHoursPerSoftware) and minutes (maxMinutesPerSoftware),
 * the oldest dropped first. recordEvent lists a map's keys only when an event adds one, or at
 * the first event on a state or entry it has not trimmed yet (a loaded state may be over a
 * limit): these cases must give what trimming after every event gave.
 */
import { describe, expect, it } from 'vitest';
import { emptyState, parseState, recordEvent, softwareKey, STATE_LIMITS, type DaemonState } from '../../src/ledger/ledger.js';
import { ev } from '../helpers/events.js';

const hourTs = (h: number, minute = 0) => new Date(Date.UTC(2026, 0, 1, 0, minute) + h * 3_600_000).toISOString().replace('.000Z', '.000000Z');
const minuteTs = (m: number) => new Date(Date.UTC(2026, 0, 1) + m * 60_000).toISOString().replace('.000Z', '.000000Z');
const hourKey = (h: number) => `${hourTs(h).slice(0, 13)}:00:00Z`;

/** trimming after every event, as recordEvent did before: the newest `max` keys */
function newest(keys: string[], max: number): string[] {
  return [...keys].sort().slice(-max);
}

describe('ledger limits', () => {
  it('the hourly timeline and an entry’s hours keep the newest hours as events add hours', () => {
    const st = emptyState('h', null);
    const n = STATE_LIMITS.maxHours + 3;
    // the same hour many times between new hours: most events add no key
    for (let h = 0; h < n; h++) for (let k = 0; k < 3; k++) recordEvent(st, ev({ ts: hourTs(h, k) }));
    const all = Array.from({ length: n }, (_, h) => hourKey(h));
    expect(Object.keys(st.hourly).sort()).toEqual(newest(all, STATE_LIMITS.maxHours));
    const e = st.software[softwareKey(ev())];
    expect(Object.keys(e.hours!).sort()).toEqual(newest(all, STATE_LIMITS.maxHoursPerSoftware));
    expect(e.hoursTrimmedBefore).toBe(newest(all, STATE_LIMITS.maxHoursPerSoftware)[0]);
    expect(Object.values(st.hourly).every((c) => c.v1 === 3)).toBe(true);
  });

  it('an entry’s minutes keep the newest minutes', () => {
    const st = emptyState('h', null);
    const n = STATE_LIMITS.maxMinutesPerSoftware + 5;
    for (let m = 0; m < n; m++) for (let k = 0; k < 2; k++) recordEvent(st, ev({ ts: minuteTs(m) }));
    const e = st.software[softwareKey(ev())];
    const all = Array.from({ length: n }, (_, m) => minuteTs(m).slice(0, 16));
    expect(Object.keys(e.minutes!).sort()).toEqual(newest(all, STATE_LIMITS.maxMinutesPerSoftware));
    expect(e.minutesFrom).toBe(newest(all, STATE_LIMITS.maxMinutesPerSoftware)[0]);
  });

  it('a loaded state over its limits is trimmed at its first event, even one on an existing hour and minute', () => {
    const st = emptyState('h', null);
    for (let m = 0; m < 3; m++) recordEvent(st, ev({ ts: minuteTs(m) }));
    const key = softwareKey(ev());
    // a state written with more keys than the limits allow (a hand-edited file, larger old limits)
    const over: DaemonState = JSON.parse(JSON.stringify(st));
    const extraHours = Array.from({ length: STATE_LIMITS.maxHours + 4 }, (_, h) => hourKey(h - STATE_LIMITS.maxHours - 10));
    for (const h of extraHours) over.hourly[h] = { v1: 1, v2: 0, token: 0 };
    const entry = over.software[key];
    for (const h of extraHours.slice(0, STATE_LIMITS.maxHoursPerSoftware + 2)) entry.hours![h] = [1, 0, 0, 0];
    for (let m = -STATE_LIMITS.maxMinutesPerSoftware - 3; m < 0; m++) entry.minutes![minuteTs(m).slice(0, 16)] = [1, 0, 0, 0];
    const loaded = parseState(JSON.stringify(over))!;
    expect(Object.keys(loaded.hourly).length).toBeGreaterThan(STATE_LIMITS.maxHours);
    // an event in the last minute already there: no key is added
    recordEvent(loaded, ev({ ts: minuteTs(2) }));
    expect(Object.keys(loaded.hourly).sort()).toEqual(newest(Object.keys(over.hourly), STATE_LIMITS.maxHours));
    const e = loaded.software[key];
    expect(Object.keys(e.hours!).sort()).toEqual(newest(Object.keys(entry.hours!), STATE_LIMITS.maxHoursPerSoftware));
    expect(Object.keys(e.minutes!).sort()).toEqual(newest(Object.keys(entry.minutes!), STATE_LIMITS.maxMinutesPerSoftware));
    expect(e.minutes![minuteTs(2).slice(0, 16)]).toEqual([2, 0, 0, 0]);
  });
});
