/**
 * How strong a new passphrase is, and the rule the core enforces: one
 * estimate, by zxcvbn-ts (@zxcvbn-ts/core, the keyboard layouts and diceware
 * words of @zxcvbn-ts/language-common, and the 10,000 most used passwords of
 * its list: shared/strength-passwords.ts), for the core and the renderer alike,
 * so the app's meter and the core's refusal never disagree.
 *
 * zxcvbn scores 0-4 by the guesses an attacker would need (3: at least 10^8,
 * 4: at least 10^10). A new passphrase (vault create, slot add-passphrase,
 * passphrase change) needs MIN_NEW_PASSPHRASE characters (shared/contract.ts)
 * AND a score of at least MIN_STRENGTH_SCORE; the core refuses less with
 * INVALID_INPUT (requireStrongPassphrase, called by electron/core/service.ts).
 *
 * The dictionaries are loaded on first use only (dynamic import): the renderer
 * fetches them as separate chunks when a new-passphrase field first gets focus,
 * and the CLI only when a command takes a new passphrase.
 */
import { MIN_NEW_PASSPHRASE } from './contract.js';
import { KeyholdError } from './errors.js';

/** The least zxcvbn score (0-4) a new passphrase may have. */
export const MIN_STRENGTH_SCORE = 3;

export type StrengthScore = 0 | 1 | 2 | 3 | 4;

export const STRENGTH_LABELS: Readonly<Record<StrengthScore, string>> = {
  0: 'very weak',
  1: 'weak',
  2: 'fair',
  3: 'strong',
  4: 'very strong',
};

export type Strength = Readonly<{
  score: StrengthScore;
  /** The score in words, or "too short (…)" below the length minimum. */
  label: string;
  /** Long enough and scored at least MIN_STRENGTH_SCORE: the core accepts it. */
  acceptable: boolean;
  tooShort: boolean;
  /** zxcvbn's warning ("This is a commonly used password."), if any. */
  warning: string | null;
  /** zxcvbn's suggestions, in English. */
  suggestions: readonly string[];
}>;

export type StrengthEstimator = (passphrase: string) => Strength;

/**
 * Words zxcvbn treats as known to an attacker (the app's and file's names): a
 * passphrase made of them is weak. The same for every caller, so scores agree.
 */
const KNOWN_WORDS: readonly string[] = ['keyhold', 'vault', 'passphrase', 'password'];

/** zxcvbn's feedback in English (it ships only keys; @zxcvbn-ts/language-en would add 1 MB of dictionaries). */
const TRANSLATIONS = {
  warnings: {
    straightRow: 'Straight rows of keys on the keyboard are easy to guess.',
    keyPattern: 'Short keyboard patterns are easy to guess.',
    simpleRepeat: 'Repeated characters like "aaa" are easy to guess.',
    extendedRepeat: 'Repeated patterns like "abcabcabc" are easy to guess.',
    sequences: 'Sequences like "abc" or "123" are easy to guess.',
    recentYears: 'Recent years are easy to guess.',
    dates: 'Dates are easy to guess.',
    topTen: 'This is one of the most used passwords.',
    topHundred: 'This is a very common password.',
    common: 'This is a common password.',
    similarToCommon: 'This is close to a common password.',
    wordByItself: 'A single word is easy to guess.',
    namesByThemselves: 'Names on their own are easy to guess.',
    commonNames: 'Common names are easy to guess.',
    userInputs: 'Avoid the names of this app and its vault.',
    pwned: 'This passphrase appeared in a data breach.',
  },
  suggestions: {
    l33t: "Letter swaps like '@' for 'a' do not help much.",
    reverseWords: 'Reversed words are easy to guess.',
    allUppercase: 'Capitalise some letters, not all.',
    capitalization: 'Capitalise more than the first letter.',
    dates: 'Avoid dates and years that are linked to you.',
    recentYears: 'Avoid recent years.',
    associatedYears: 'Avoid years that are linked to you.',
    sequences: 'Avoid common sequences.',
    repeated: 'Avoid repeated words and characters.',
    longerKeyboardPattern: 'Avoid keyboard patterns.',
    anotherWord: 'Add another word or two, less common ones.',
    useWords: 'Use several unrelated words; avoid common phrases.',
    noNeed: 'Symbols, digits and capitals are not needed: length and unrelated words make it strong.',
    pwned: 'If you use it anywhere else, change it there too.',
  },
  timeEstimation: {
    ltSecond: 'less than a second',
    second: '{base} second',
    seconds: '{base} seconds',
    minute: '{base} minute',
    minutes: '{base} minutes',
    hour: '{base} hour',
    hours: '{base} hours',
    day: '{base} day',
    days: '{base} days',
    month: '{base} month',
    months: '{base} months',
    year: '{base} year',
    years: '{base} years',
    centuries: 'centuries',
  },
};

function clampScore(n: number): StrengthScore {
  return (n <= 0 ? 0 : n >= 4 ? 4 : Math.floor(n)) as StrengthScore;
}

/** The estimate as the app shows it, from zxcvbn's score and feedback. */
export function strengthOf(passphrase: string, score: number, warning: string | null, suggestions: readonly string[]): Strength {
  const s = clampScore(score);
  const tooShort = passphrase.length < MIN_NEW_PASSPHRASE;
  return {
    score: s,
    label: tooShort ? `too short (at least ${MIN_NEW_PASSPHRASE} characters)` : STRENGTH_LABELS[s],
    acceptable: !tooShort && s >= MIN_STRENGTH_SCORE,
    tooShort,
    warning: warning && warning.length > 0 ? warning : null,
    suggestions: suggestions.filter((x) => x.length > 0),
  };
}

let loading: Promise<StrengthEstimator> | null = null;

async function build(): Promise<StrengthEstimator> {
  const [{ ZxcvbnFactory }, graphs, diceware, passwords] = await Promise.all([
    import('@zxcvbn-ts/core'),
    import('@zxcvbn-ts/language-common/dist/adjacencyGraphs.json.mjs'),
    import('@zxcvbn-ts/language-common/dist/diceware.json.mjs'),
    import('./strength-passwords.js'),
  ]);
  const zxcvbn = new ZxcvbnFactory({
    dictionary: { 'passwords-common': passwords.COMMON_PASSWORDS.split('\n'), 'diceware-common': diceware.default },
    graphs: graphs.default,
    translations: TRANSLATIONS,
  });
  return function estimate(passphrase: string): Strength {
    const r = zxcvbn.check(passphrase, [...KNOWN_WORDS]);
    return strengthOf(passphrase, r.score, r.feedback.warning, r.feedback.suggestions);
  };
}

/**
 * The estimator, loading zxcvbn and its dictionaries on the first call (later
 * calls share the same promise; a failed load is tried again next time).
 */
export function loadStrengthEstimator(): Promise<StrengthEstimator> {
  loading ??= build().catch((e: unknown) => {
    loading = null;
    throw e;
  });
  return loading;
}

/**
 * The core's rule: refuses a new passphrase scored below MIN_STRENGTH_SCORE
 * with INVALID_INPUT. `title` is the command as people call it ("init",
 * "passphrase change"), `field` the passphrase as they know it ("the new
 * passphrase"). The message never carries the passphrase, nor zxcvbn's
 * feedback about it (the app shows that beside the field, not in a log).
 */
export async function requireStrongPassphrase(passphrase: string, title: string, field: string): Promise<void> {
  const estimate = await loadStrengthEstimator();
  const s = estimate(passphrase);
  if (s.tooShort) {
    throw new KeyholdError('INVALID_INPUT', `${title}: a new passphrase needs at least ${MIN_NEW_PASSPHRASE} characters`);
  }
  if (s.score < MIN_STRENGTH_SCORE) {
    throw new KeyholdError(
      'INVALID_INPUT',
      `${title}: ${field} is too easy to guess (strength ${s.score} of 4, ${STRENGTH_LABELS[s.score]}; at least ${MIN_STRENGTH_SCORE}, ${STRENGTH_LABELS[MIN_STRENGTH_SCORE]}, is needed)`,
      'Use four or more unrelated words, or add words to it. Avoid common passwords, names, dates, keyboard rows and repeats.',
    );
  }
}
