/**
 * The one date parser (shared/time.ts) against a reference: a table of valid
 * and invalid dates (leap years, month ends, offsets, the range a bundle can
 * carry), and a property test comparing it with a simple, independent
 * calendar computation (days counted year by year and month by month).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KeyholdError } from '../../shared/errors.js';
import { parseTime as parseTimeFromDuration, parseDuration } from '../../shared/duration.js';
import { MAX_TIME_MS, MIN_TIME_MS, parseTime, parseTimeMs, timePlus } from '../../shared/time.js';

/** The reference: whole days from 0000-01-01, counted naively; then shifted to the Unix epoch. */
function refLeap(y: number): boolean {
  if (y % 400 === 0) return true;
  if (y % 100 === 0) return false;
  return y % 4 === 0;
}
const REF_MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
function refMonthDays(y: number, m: number): number {
  return m === 2 && refLeap(y) ? 29 : (REF_MONTH_DAYS[m - 1] as number);
}
const YEAR_DAYS: number[] = [];
for (let y = 0, acc = 0; y <= 10_000; y++) {
  YEAR_DAYS.push(acc);
  acc += refLeap(y) ? 366 : 365;
}
function refDaysSinceYear0(y: number, m: number, d: number): number {
  let days = YEAR_DAYS[y] as number;
  for (let i = 1; i < m; i++) days += refMonthDays(y, i);
  return days + d - 1;
}
const EPOCH_DAYS = refDaysSinceYear0(1970, 1, 1);
function refMs(y: number, mo: number, d: number, h: number, mi: number, s: number, ms: number, offsetMin: number): number {
  return ((((refDaysSinceYear0(y, mo, d) - EPOCH_DAYS) * 24 + h) * 60 + mi - offsetMin) * 60 + s) * 1000 + ms;
}

function code(f: () => unknown): string | null {
  try {
    f();
    return null;
  } catch (e) {
    return e instanceof KeyholdError ? e.code : 'not a KeyholdError';
  }
}

const p2 = (n: number) => String(n).padStart(2, '0');
const p4 = (n: number) => String(n).padStart(4, '0');

describe('parseTime: a table of dates', () => {
  const valid: [string, string][] = [
    ['2028-02-29', '2028-02-29T00:00:00.000Z'],
    ['2000-02-29', '2000-02-29T00:00:00.000Z'],
    ['2027-01-31', '2027-01-31T00:00:00.000Z'],
    ['2027-04-30T10:00+01:00', '2027-04-30T09:00:00.000Z'],
    ['2027-12-31T23:30:00-01:00', '2028-01-01T00:30:00.000Z'],
    ['2027-01-01T00:30:00+01:00', '2026-12-31T23:30:00.000Z'],
    ['2026-11-27T14:30:00Z', '2026-11-27T14:30:00.000Z'],
    ['2026-11-27T14:30:00.5Z', '2026-11-27T14:30:00.500Z'],
    ['2026-11-27T14:30:00.123456789Z', '2026-11-27T14:30:00.123Z'],
    ['2026-11-27T14:30Z', '2026-11-27T14:30:00.000Z'],
    ['2026-06-01T12:00:00+14:00', '2026-05-31T22:00:00.000Z'],
    ['0000-01-01', '0000-01-01T00:00:00.000Z'],
    ['9999-12-31', '9999-12-31T00:00:00.000Z'],
    ['9999-12-31T23:59:59Z', '9999-12-31T23:59:59.000Z'],
    ['9999-12-31T23:59:59.999Z', '9999-12-31T23:59:59.999Z'],
  ];
  it.each(valid)('accepts %s as %s', (text, iso) => {
    expect(parseTime(text, 't')).toBe(iso);
  });

  const invalid: [string, RegExp][] = [
    ['2027-02-29', /February 2027 has 28 days/],
    ['1900-02-29', /February 1900 has 28 days/],
    ['2027-02-30', /February 2027 has 28 days/],
    ['2027-04-31T10:00+01:00', /April 2027 has 30 days/],
    ['2027-06-31', /June 2027 has 30 days/],
    ['2027-13-01', /no month 13/],
    ['2027-00-10', /no month 0/],
    ['2027-01-00', /January 2027 has 31 days/],
    ['2027-01-01T24:00Z', /not a time of day/],
    ['2027-01-01T23:60Z', /not a time of day/],
    ['2027-01-01T23:59:60Z', /not a time of day/],
    ['2027-01-01T10:00+24:00', /offset/],
    ['2027-01-01T10:00+01:60', /offset/],
    ['2027-01-01T10:00', /no time zone/],
    ['2027-01-01T10:00:00', /no time zone/],
    ['9999-12-31T23:00-01:00', /outside the times/],
    ['0000-01-01T00:30+01:00', /outside the times/],
    ['+010000-01-01', /not a date or time/],
    ['10000-01-01', /not a date or time/],
    ['2027-1-1', /not a date or time/],
    ['27-01-01', /not a date or time/],
    ['2027/01/01', /not a date or time/],
    ['2027-01-01 10:00Z', /not a date or time/],
    ['2027-01-01T10:00:00.Z', /not a date or time/],
    ['2027-01-01T10:00:00.1234567890Z', /not a date or time/],
    ['2027-01-01T10:00+0100', /not a date or time/],
    ['now', /not a date or time/],
    ['', /not a date or time/],
    [' 2027-01-01', /not a date or time/],
    ['2027-01-01\n', /not a date or time/],
  ];
  it.each(invalid)('refuses %j with INVALID_INPUT', (text, why) => {
    expect(code(() => parseTime(text, 'key --activate-at'))).toBe('INVALID_INPUT');
    let msg = '';
    try {
      parseTime(text, 'key --activate-at');
    } catch (e) {
      msg = (e as Error).message;
      expect((e as KeyholdError).hint).toMatch(/ISO 8601/);
    }
    expect(msg).toMatch(/^key --activate-at: /);
    expect(msg).toMatch(why);
    // A control character in the text cannot reach the message raw.
    expect(msg).not.toMatch(/\n/);
  });

  it('is the parser duration.ts exports too (one parser)', () => {
    expect(parseTimeFromDuration).toBe(parseTime);
  });
});

describe('parseTime: against an independent calendar computation', () => {
  it('agrees on every date and time with a zone, and refuses exactly the days the reference says do not exist', () => {
    fc.assert(fc.property(
      fc.integer({ min: 0, max: 9999 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 31 }),
      fc.integer({ min: 0, max: 23 }), fc.integer({ min: 0, max: 59 }), fc.integer({ min: 0, max: 59 }),
      fc.integer({ min: 0, max: 999 }), fc.integer({ min: -(23 * 60 + 59), max: 23 * 60 + 59 }),
      (y, mo, d, h, mi, s, ms, off) => {
        const zone = off === 0 ? 'Z' : `${off < 0 ? '-' : '+'}${p2(Math.floor(Math.abs(off) / 60))}:${p2(Math.abs(off) % 60)}`;
        const text = `${p4(y)}-${p2(mo)}-${p2(d)}T${p2(h)}:${p2(mi)}:${p2(s)}.${String(ms).padStart(3, '0')}${zone}`;
        const exists = d <= refMonthDays(y, mo);
        const want = refMs(y, mo, d, h, mi, s, ms, off);
        if (!exists || want < MIN_TIME_MS || want > MAX_TIME_MS) {
          expect(code(() => parseTimeMs(text))).toBe('INVALID_INPUT');
        } else {
          expect(parseTimeMs(text)).toBe(want);
          // And the vault's form, which sorts as text in time order for years 0000-9999.
          expect(parseTime(text)).toBe(new Date(want).toISOString());
        }
      }), { numRuns: 3000 });
  });

  it('a date alone is midnight UTC of that day, and every day of every month is accepted or refused as the reference says', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 9999 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 31 }),
      (y, mo, d) => {
        const text = `${p4(y)}-${p2(mo)}-${p2(d)}`;
        if (d > refMonthDays(y, mo)) expect(code(() => parseTimeMs(text))).toBe('INVALID_INPUT');
        else expect(parseTimeMs(text)).toBe(refMs(y, mo, d, 0, 0, 0, 0, 0));
      }), { numRuns: 3000 });
  });

  it('leap years: February 29 exists exactly when the reference says so', () => {
    for (let y = 0; y <= 9999; y++) {
      const ok = code(() => parseTimeMs(`${p4(y)}-02-29`)) === null;
      expect(ok, String(y)).toBe(refLeap(y));
    }
  });
});

describe('derived times stay in the range a bundle carries', () => {
  it('timePlus refuses a sum past 9999-12-31T23:59:59Z and names what it was', () => {
    expect(timePlus('9999-12-31T00:00:00.000Z', 86_399, 'x')).toBe('9999-12-31T23:59:59.000Z');
    let msg = '';
    try {
      timePlus('9999-12-31T00:00:00.000Z', 365 * 86_400, 'key: the not-after of version 1');
    } catch (e) {
      expect((e as KeyholdError).code).toBe('INVALID_INPUT');
      msg = (e as Error).message;
    }
    expect(msg).toMatch(/^key: the not-after of version 1 would be \+010000-.* after 9999-12-31T23:59:59Z/);
  });

  it('durations are at most 100 years, so now plus any duration stays in range', () => {
    expect(parseDuration('36500d')).toBe(36_500 * 86_400);
    expect(code(() => parseDuration('36501d'))).toBe('INVALID_INPUT');
    expect(code(() => parseDuration('999999w'))).toBe('INVALID_INPUT');
  });
});
