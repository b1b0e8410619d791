/** Small display helpers shared by the screens. */

/** A passphrase's rough strength: length times the alphabet it draws from, with repeats discounted. */
export type Strength = Readonly<{ score: 0 | 1 | 2 | 3 | 4; label: string; bits: number }>;

export function passphraseStrength(p: string, minLength: number): Strength {
  if (p.length === 0) return { score: 0, label: 'empty', bits: 0 };
  let pool = 0;
  if (/[a-z]/.test(p)) pool += 26;
  if (/[A-Z]/.test(p)) pool += 26;
  if (/[0-9]/.test(p)) pool += 10;
  if (/[^A-Za-z0-9]/.test(p)) pool += 33;
  // Repeated characters add little: count each distinct one fully, repeats at a quarter.
  const distinctChars = new Set(p).size;
  const effective = distinctChars + (p.length - distinctChars) / 4;
  const bits = Math.round(effective * Math.log2(Math.max(pool, 2)));
  if (p.length < minLength) return { score: 0, label: `too short (at least ${minLength} characters)`, bits };
  if (bits < 60) return { score: 1, label: 'weak', bits };
  if (bits < 80) return { score: 2, label: 'fair', bits };
  if (bits < 100) return { score: 3, label: 'strong', bits };
  return { score: 4, label: 'very strong', bits };
}

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
