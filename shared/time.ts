/**
 * Times as operators write them, and the range the system can carry: the one
 * date parser of the CLI, the core and the app (every time option:
 * `key create --activate-at`, `audit list --since/--until`, ...).
 *
 * Accepted (ISO 8601 / RFC 3339 profile, docs/cli.md 2.4):
 *   YYYY-MM-DD                                    midnight UTC
 *   YYYY-MM-DDTHH:MM[:SS[.fraction]](Z|+HH:MM|-HH:MM)
 * Every field is checked against the calendar (2027-02-30, 2027-04-31, hour
 * 24, second 60 are refused, never rolled over), and the instant must lie in
 * the range a bundle can carry: 0000-01-01T00:00:00Z to 9999-12-31T23:59:59Z
 * (docs/bundle-format.md 2, "time": four-digit years). Times derived from one
 * (not-after, grace end, expiry) are checked against the same range with
 * `timePlus` before anything is written.
 */

import { KeyholdError } from './errors.js';

/** The earliest instant a vault or bundle time can hold. */
export const MIN_TIME_MS = -62_167_219_200_000; // 0000-01-01T00:00:00.000Z
/** The latest: a bundle time is to the second, so the last millisecond of 9999 still fits. */
export const MAX_TIME_MS = 253_402_300_799_999; // 9999-12-31T23:59:59.999Z
export const MAX_TIME_TEXT = '9999-12-31T23:59:59Z';

const TIME_HINT = 'Use ISO 8601: 2026-11-27 (midnight UTC), 2026-11-27T14:30:00Z or 2026-11-27T15:30:00+01:00.';
const FORM_RE = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|([+-])(\d{2}):(\d{2}))?)?$/;

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October',
  'November', 'December'] as const;

export function isLeapYear(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

export function daysInMonth(y: number, m: number): number {
  return m === 2 ? (isLeapYear(y) ? 29 : 28) : [4, 6, 9, 11].includes(m) ? 30 : 31;
}

/** Days from 1970-01-01 to y-m-d of the proleptic Gregorian calendar (H. Hinnant's days_from_civil). */
export function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

function bad(what: string, text: string, why: string): KeyholdError {
  // The text is quoted (JSON) so a control character in it cannot break the line.
  return new KeyholdError('INVALID_INPUT', `${what}: ${JSON.stringify(text.slice(0, 40))} ${why}`, TIME_HINT);
}

/** Whether an instant (ms since the epoch) is one a vault and a bundle can carry. */
export function inTimeRange(ms: number): boolean {
  return Number.isFinite(ms) && ms >= MIN_TIME_MS && ms <= MAX_TIME_MS;
}

/** Parses a time as above; milliseconds since the epoch. Throws INVALID_INPUT naming `what`. */
export function parseTimeMs(text: string, what = 'time'): number {
  if (typeof text !== 'string') throw bad(what, String(text), 'is not a date or time');
  const m = FORM_RE.exec(text);
  if (!m) {
    const why = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(text)
      ? 'has no time zone: add Z (UTC) or an offset such as +01:00'
      : 'is not a date or time';
    throw bad(what, text, why);
  }
  const [, ys, mos, ds, hs, mis, ss, frac, zone, sign, ohs, oms] = m;
  const y = Number(ys);
  const mo = Number(mos);
  const d = Number(ds);
  if (mo < 1 || mo > 12) throw bad(what, text, `is not a date: there is no month ${mo}`);
  const dim = daysInMonth(y, mo);
  if (d < 1 || d > dim) {
    throw bad(what, text, `is not a date: ${MONTHS[mo - 1] as string} ${ys as string} has ${dim} days`);
  }
  const h = hs === undefined ? 0 : Number(hs);
  const mi = mis === undefined ? 0 : Number(mis);
  const s = ss === undefined ? 0 : Number(ss);
  if (hs !== undefined && zone === undefined) throw bad(what, text, 'has no time zone: add Z (UTC) or an offset such as +01:00');
  if (h > 23 || mi > 59 || s > 59) throw bad(what, text, 'is not a time of day (hours 00-23, minutes and seconds 00-59)');
  let offsetMin = 0;
  if (sign !== undefined) {
    const oh = Number(ohs);
    const om = Number(oms);
    if (oh > 23 || om > 59) throw bad(what, text, 'has an offset that is not one (+HH:MM, hours 00-23, minutes 00-59)');
    offsetMin = (sign === '-' ? -1 : 1) * (oh * 60 + om);
  }
  const ms = frac === undefined ? 0 : Number(frac.padEnd(3, '0').slice(0, 3));
  const t = ((daysFromCivil(y, mo, d) * 24 + h) * 60 + mi - offsetMin) * 60_000 + s * 1000 + ms;
  if (!inTimeRange(t)) throw bad(what, text, `is outside the times Keyhold can carry (years 0000 to 9999, UTC)`);
  return t;
}

/** Parses a time as above; the UTC time as the vault writes it (`toISOString`, milliseconds). */
export function parseTime(text: string, what = 'time'): string {
  return new Date(parseTimeMs(text, what)).toISOString();
}

/**
 * `base` plus `seconds`, as a vault time, when the result is one a bundle can
 * carry; else INVALID_INPUT saying what would have been out of range.
 * `what` names the derived time ("the not-after of version 1"), `hint` how to
 * stay inside (a shorter lifetime, an earlier activation).
 */
export function timePlus(base: string | number, seconds: number, what: string, hint?: string): string {
  const b = typeof base === 'number' ? base : Date.parse(base);
  const t = b + seconds * 1000;
  if (!inTimeRange(t)) {
    throw new KeyholdError('INVALID_INPUT',
      `${what} would be ${Number.isFinite(t) && Math.abs(t) < 8.64e15 ? new Date(t).toISOString() : 'out of range'}, ` +
      (t < MIN_TIME_MS ? 'before 0000-01-01T00:00:00Z, the earliest time' : `after ${MAX_TIME_TEXT}, the latest time`) +
      ' a bundle can carry',
      hint ?? 'Choose an earlier time or a shorter duration.');
  }
  return new Date(t).toISOString();
}
