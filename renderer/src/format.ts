/** Small display helpers shared by the screens. */

/**
 * A passphrase's strength: zxcvbn's estimate, the rule the core enforces too
 * (shared/strength.ts). loadStrengthEstimator fetches zxcvbn and its
 * dictionaries as a separate chunk; components/NewPassphrase.tsx shows it.
 */
export { loadStrengthEstimator, MIN_STRENGTH_SCORE, STRENGTH_LABELS, type Strength } from '../../shared/strength';

/** Seconds as the largest whole unit that fits ("90 days", "12 hours"). */
export function duration(seconds: number): string {
  const units: ReadonlyArray<readonly [number, string]> = [
    [86_400, 'day'],
    [3_600, 'hour'],
    [60, 'minute'],
    [1, 'second'],
  ];
  for (const [size, name] of units) {
    if (seconds >= size && seconds % size === 0) {
      const n = seconds / size;
      return `${n} ${name}${n === 1 ? '' : 's'}`;
    }
  }
  return `${seconds} seconds`;
}

/** An ISO time as a short local date and time, or a dash. */
export function when(iso: string | null): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;
}
