/**
 * A controllable clock for tests of time-driven behaviour (rotation due
 * dates, grace windows, audit timestamps). Pass `clock.now` as the `clock`
 * option of KeyholdService or Vault; time moves only when the test says so.
 */

export const SECOND_MS = 1000;
export const HOUR_MS = 3600 * SECOND_MS;
export const DAY_MS = 24 * HOUR_MS;

export type TestClock = Readonly<{
  /** The current time, as a fresh Date (callers may not mutate the clock through it). */
  now: () => Date;
  /** The current time in milliseconds since the epoch. */
  ms: () => number;
  /** The current time as ISO 8601 text, as the vault writes it. */
  iso: () => string;
  /** Moves the clock forward (or back, with a negative value) by `ms` milliseconds. */
  advance: (ms: number) => void;
  /** Sets the clock to an absolute time. */
  set: (t: Date | number) => void;
}>;

/** 2026-01-01T00:00:00.000Z: a fixed start, so runs are reproducible. */
export const DEFAULT_START_MS = Date.UTC(2026, 0, 1, 0, 0, 0, 0);

export function testClock(start: Date | number = DEFAULT_START_MS): TestClock {
  let t = typeof start === 'number' ? start : start.getTime();
  if (!Number.isFinite(t)) throw new Error('testClock: start is not a valid time');
  return Object.freeze({
    now: () => new Date(t),
    ms: () => t,
    iso: () => new Date(t).toISOString(),
    advance: (ms: number) => {
      if (!Number.isFinite(ms)) throw new Error('testClock: advance needs a finite number of milliseconds');
      t += ms;
    },
    set: (to: Date | number) => {
      const n = typeof to === 'number' ? to : to.getTime();
      if (!Number.isFinite(n)) throw new Error('testClock: not a valid time');
      t = n;
    },
  });
}

/** `start` plus `days` days, as ISO text. */
export function isoAt(startMs: number, days: number): string {
  return new Date(startMs + days * DAY_MS).toISOString();
}
