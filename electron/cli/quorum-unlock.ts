/**
 * `--unlock quorum` (docs/cli.md 3.23a): the shares of a quorum keyslot
 * collected one custodian at a time, then the vault opens with the M-th.
 *
 * Each `--share NAME=FILE` (repeated) gives one custodian's share: the file
 * holds their passphrase (a passphrase custodian), their token's PIN (a token
 * custodian), or their paper share's words (either). On a terminal the
 * custodians not given are then asked for in turn, with a no-echo prompt
 * ("Custodian NAME, passphrase or paper share words:"; Enter skips one), a
 * wrong one asked again. Fewer than M shares: QUORUM_SHARE, the vault stays
 * locked, and the collection is cancelled (its shares wiped).
 *
 * Only prompt.ts and types here (common.ts loads this file; the core comes
 * through engine.ts).
 */

import type { QuorumState } from '../../shared/contract.js';
import { KeyholdError } from '../../shared/errors.js';
import type { KeyholdService } from '../core/service.js';
import { esc } from './output.js';
import { canAsk, readSecret } from './prompt.js';

/** `--share NAME=FILE`: the name and the file. */
export function parseShareOption(v: string): { name: string; file: string } {
  const at = v.indexOf('=');
  if (at <= 0 || at === v.length - 1) {
    throw new KeyholdError('INVALID_INPUT', `cli: --share must be NAME=FILE (a custodian's name and a file), not ${JSON.stringify(v.slice(0, 40))}`,
      'For example --share alice=/media/alice/passphrase.txt (a passphrase, a token PIN or paper share words).');
  }
  return { name: v.slice(0, at), file: v.slice(at + 1) };
}

/** Collects the shares and unlocks; throws QUORUM_SHARE (after a cancel) when fewer than M are given. */
export async function unlockByQuorum(svc: KeyholdService, path: string, shares: readonly string[], allowFinalTry: boolean,
  acceptRollback?: { reason: string }): Promise<void> {
  const given = shares.map(parseShareOption);
  const state: QuorumState = await svc.call('quorum.begin', { path });
  const { session } = state;
  const engine = await import('./engine.js');
  let collected = 0;
  let done = false;
  const kindOf = (name: string) => state.custodians.find((c) => c.name === name)?.kind;
  /** One custodian's share from a secret text: paper words, else a passphrase or a PIN as the custodian holds. */
  const give = async (name: string, secret: string): Promise<void> => {
    const paper = engine.looksLikePaper(secret);
    const r = await svc.call('quorum.share', {
      session, custodian: name, allowFinalTry, ...(acceptRollback ? { acceptRollback } : {}),
      ...(paper ? { words: secret } : kindOf(name) === 'token' ? { pin: secret } : { passphrase: secret }),
    });
    collected = r.collected;
    done = r.unlocked;
  };
  try {
    for (const s of given) {
      if (done) break;
      if (kindOf(s.name) === undefined) {
        throw new KeyholdError('INVALID_INPUT', `cli: --share names '${esc(s.name)}', who is no custodian of keyslot ${state.slot}`,
          `Its custodians: ${state.custodians.map((c) => esc(c.name)).join(', ')}.`);
      }
      const { READ_LIMITS, readTextFile } = engine;
      const text = readTextFile(s.file, { prefix: 'cli', what: 'share', limit: READ_LIMITS.secret }).replace(/\r?\n$/, '');
      if (text.length === 0) throw new KeyholdError('INVALID_INPUT', `cli: the share file ${s.file} is empty`);
      await give(s.name, text);
    }
    if (!done && canAsk()) {
      process.stderr.write(`Quorum keyslot ${state.slot}: any ${state.m} of ${state.n} custodians unlock (${collected} given).\n`);
      for (const c of state.custodians) {
        if (done) break;
        if (given.some((s) => s.name === c.name)) continue;
        for (;;) {
          const what = c.kind === 'token' ? 'token PIN' : 'passphrase';
          const secret = await readSecret({ prompt: `Custodian ${esc(c.name)}, ${what} or paper share words (Enter to skip): ` }, 'share');
          if (secret === '') break;
          try {
            await give(c.name, secret);
            if (!done) process.stderr.write(`${collected} of ${state.m} collected, ${state.m - collected} more needed.\n`);
            break;
          } catch (e) {
            // A wrong passphrase or a mistyped line is that custodian's: said, and asked again.
            if (!(e instanceof KeyholdError) || !['WRONG_PASSPHRASE', 'INVALID_INPUT', 'QUORUM_SHARE', 'TOKEN_PIN_INCORRECT'].includes(e.code)) throw e;
            process.stderr.write(`keyhold: ${esc(e.message)}\n`);
          }
        }
      }
    }
    if (!done) {
      throw new KeyholdError('QUORUM_SHARE', `quorum: ${collected} of the ${state.m} shares needed were given; the vault stays locked`,
        canAsk() ? 'Each custodian gives their share in turn (passphrase, token PIN or paper words).'
          : 'Give a share per custodian with --share NAME=FILE (a passphrase, a token PIN or paper share words), or run on a terminal to be asked.');
    }
  } finally {
    if (!done) await svc.call('quorum.cancel', { session }).catch(() => undefined);
  }
}
