/** Durations as operators write them: 90d, 36h, 2w, 30m, 45s. Stored in seconds. */

import { KeyholdError } from './errors.js';

const UNIT_S: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };
const DURATION_RE = /^(\d{1,6})([smhdw])$/;

export function parseDuration(text: string, what = 'duration'): number {
  const m = DURATION_RE.exec(text.trim());
  if (!m) {
    throw new KeyholdError('INVALID_INPUT', `${what}: "${text.slice(0, 32)}" is not a duration`,
      'Write a whole number and a unit: s, m, h, d or w (for example 90d or 36h).');
  }
  return Number(m[1]) * (UNIT_S[m[2] as string] as number);
}

export function formatDuration(seconds: number): string {
  for (const [u, n] of [['w', 604_800], ['d', 86_400], ['h', 3600], ['m', 60]] as const) {
    if (seconds >= n && seconds % n === 0) return `${seconds / n}${u}`;
  }
  return `${seconds}s`;
}

/** An ISO 8601 time with a zone (Z or an offset), as --since / --until take. */
export function parseTime(text: string, what = 'time'): string {
  const ok = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/.test(text);
  const t = ok ? Date.parse(text.length === 10 ? `${text}T00:00:00Z` : text) : NaN;
  if (Number.isNaN(t)) {
    throw new KeyholdError('INVALID_INPUT', `${what}: "${text.slice(0, 40)}" is not a date or time`,
      'Use ISO 8601: 2026-11-27 or 2026-11-27T14:30:00Z.');
  }
  return new Date(t).toISOString();
}
