/** Durations as operators write them: 90d, 36h, 2w, 30m, 45s. Stored in seconds. */

import { KeyholdError } from './errors.js';

const UNIT_S: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };
const DURATION_RE = /^(\d{1,6})([smhdw])$/;
/**
 * The longest duration: 100 years (36500d). Every time derived from now or
 * from an activation time by a duration (not-after, grace end, expiry) then
 * stays far inside the years a bundle can carry (shared/time.ts).
 */
export const MAX_DURATION_S = 36_500 * 86_400;

export function parseDuration(text: string, what = 'duration'): number {
  const m = DURATION_RE.exec(text.trim());
  if (!m) {
    throw new KeyholdError('INVALID_INPUT', `${what}: ${JSON.stringify(text.slice(0, 32))} is not a duration`,
      'Write a whole number and a unit: s, m, h, d or w (for example 90d or 36h).');
  }
  const s = Number(m[1]) * (UNIT_S[m[2] as string] as number);
  if (s > MAX_DURATION_S) {
    throw new KeyholdError('INVALID_INPUT', `${what}: ${JSON.stringify(text.trim())} is longer than 100 years (36500d)`,
      'Durations are at most 36500d; a key meant to last indefinitely still needs a not-after the bundle format can carry.');
  }
  return s;
}

export function formatDuration(seconds: number): string {
  for (const [u, n] of [['w', 604_800], ['d', 86_400], ['h', 3600], ['m', 60]] as const) {
    if (seconds >= n && seconds % n === 0) return `${seconds / n}${u}`;
  }
  return `${seconds}s`;
}

/** Times have one parser, in shared/time.ts; re-exported for the callers that import it from here. */
export { parseTime } from './time.js';
