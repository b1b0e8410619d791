/**
 * Secret input for the CLI: environment, file, or a terminal prompt that
 * echoes nothing. The prompt goes to stderr so stdout stays machine-readable.
 */

import fs from 'node:fs';
import { KeyholdError } from '../../shared/errors.js';

export type SecretSource = Readonly<{
  /** Absent when the environment must not be used (a second token's PIN, say). */
  envVar?: string | undefined;
  file?: string | undefined;
  prompt: string;
  confirm?: boolean;
  /** Checks a typed secret before it is asked again (a new passphrase's strength): a refusal ends the prompt at once. */
  check?: ((secret: string) => Promise<void>) | undefined;
}>;

async function readSecretFile(file: string, what: string): Promise<string> {
  // The core's bounded reader (engine.ts, loaded when a command runs, as this is).
  const { READ_LIMITS, readTextFile } = await import('./engine.js');
  // A regular file of at most 4 KiB (a passphrase is at most 1024 characters, a PIN 255), stopped while reading.
  const text = readTextFile(file, { prefix: 'cli', what, limit: READ_LIMITS.secret });
  try {
    const st = fs.statSync(file);
    if ((st.mode & 0o077) !== 0 && process.platform !== 'win32') {
      process.stderr.write(`keyhold: warning: ${file} is readable by other users; keep ${what} files mode 0600\n`);
    }
  } catch {
    // Read a moment ago; a file gone since has nothing to warn about.
  }
  // One trailing newline is how editors end a file; it is not part of the secret.
  const value = text.replace(/\r?\n$/, '');
  if (value.length === 0) throw new KeyholdError('INVALID_INPUT', `cli: ${what} file ${file} is empty`);
  return value;
}

/** Reads one line from the terminal without echo. */
function promptHidden(prompt: string): Promise<string> {
  const stdin = process.stdin;
  return new Promise((resolve, reject) => {
    let value = '';
    const wasRaw = stdin.isRaw;
    // Echo goes off before the prompt shows: whoever answers as soon as it
    // appears (a person, a paste, a test) must not see the answer echoed.
    stdin.setRawMode(true);
    process.stderr.write(prompt);
    stdin.resume();
    stdin.setEncoding('utf8');
    function done(err: Error | null): void {
      stdin.setRawMode(wasRaw);
      stdin.pause();
      stdin.removeListener('data', onData);
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(value);
    }
    function onData(chunk: string): void {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return done(null);
        if (ch === '\u0003' || ch === '\u0004') {
          value = '';
          return done(new KeyholdError('INVALID_INPUT', 'cli: cancelled'));
        }
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else if (ch >= ' ') value += ch;
      }
    }
    stdin.on('data', onData);
  });
}

/**
 * Gets a secret: from a file named on the command line, then from its environment variable, then from
 * a no-echo prompt when stdin is a terminal; otherwise a clear error.
 */
export async function readSecret(src: SecretSource, what = 'passphrase'): Promise<string> {
  // An explicit file on the command line wins over the environment.
  if (src.file !== undefined) return readSecretFile(src.file, what);
  const fromEnv = src.envVar === undefined ? undefined : process.env[src.envVar];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  if (!process.stdin.isTTY) {
    throw new KeyholdError('NOT_INTERACTIVE', `cli: no ${what} given and no terminal to ask on`,
      src.envVar === undefined
        ? `Another ${what} is needed and can only be typed on a terminal (the one given was for the first login only).`
        : `Set ${src.envVar}, or pass a file with the matching --*-file option.`);
  }
  const first = await promptHidden(src.prompt);
  if (src.check) await src.check(first);
  if (src.confirm) {
    const again = await promptHidden('Repeat it: ');
    if (again !== first) throw new KeyholdError('INVALID_INPUT', `cli: the two ${what}s differ`);
  }
  return first;
}

/**
 * Asks before a change that cannot be undone: `question` (which names
 * exactly what will change) goes to stderr with a plain yes/no prompt on a
 * terminal; `yes` (the command's --yes) answers for scripts. Resolves when
 * confirmed. Throws CONFIRMATION_REQUIRED (exit 2) when the answer is not yes,
 * or when there is no terminal to ask on and no --yes: nothing has changed.
 */
export async function confirm(question: string, opts: { yes?: boolean | undefined }): Promise<void> {
  if (opts.yes === true) return;
  if (!canAsk()) {
    throw new KeyholdError('CONFIRMATION_REQUIRED',
      `Confirmation needed, and there is no terminal to ask on: ${question.split('\n')[0] ?? ''} Nothing was changed.`,
      'Run it on a terminal to be asked, or add --yes in a script once you are sure.');
  }
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  let answer: string;
  try {
    answer = await new Promise<string>((resolve) => {
      // Ctrl-C or Ctrl-D at the prompt is a no.
      rl.once('close', () => resolve(''));
      rl.once('SIGINT', () => rl.close());
      void rl.question(`${question} [y/N] `).then(resolve, () => resolve(''));
    });
  } finally {
    rl.close();
  }
  if (!/^(y|yes)$/i.test(answer.trim())) {
    throw new KeyholdError('CONFIRMATION_REQUIRED', 'Not confirmed: nothing was changed.',
      'Run it again and answer y (or yes) to go ahead.');
  }
}

/** Whether confirm() could ask: stdin and stderr (where the question goes) are both a terminal. */
export function canAsk(): boolean {
  return process.stdin.isTTY === true && process.stderr.isTTY === true;
}
