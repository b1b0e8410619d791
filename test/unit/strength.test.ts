/**
 * The passphrase strength rule (shared/strength.ts): zxcvbn's estimate, the
 * same for the core and the app, and the minimum the core enforces on every
 * new passphrase (vault create, slot add-passphrase, passphrase change)
 * through the real service on real vault files, and through the IPC router.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KeyholdService } from '../../electron/core/service.js';
import { MIN_NEW_PASSPHRASE } from '../../shared/contract.js';
import { isKeyholdError } from '../../shared/errors.js';
import { loadStrengthEstimator, MIN_STRENGTH_SCORE, requireStrongPassphrase } from '../../shared/strength.js';
import { COMMON_PASSWORDS } from '../../shared/strength-passwords.js';
import { expectCode } from '../integration/helpers/harness.js';
import { makeTestRouter, TEST_SENDER } from '../helpers/router.js';
import { FAST_KDF, makeTmpDir, type TmpDir } from '../helpers/tmp.js';

/** The suite's usual passphrase (test/e2e, test/bundle, …): it must stay acceptable. */
const SUITE_PASS = 'correct horse battery staple';
// The generator is plain JavaScript (build/): loaded by path, typed here by what the test uses.
const GENERATOR = path.resolve(import.meta.dirname, '../../build/strength-passwords.mjs');
const { passwordsModule } = (await import(GENERATOR)) as { passwordsModule: () => string };

const STRONG = 'lantern quarry velvet orbit thistle';
const STRONG_2 = 'walnut harbour sixty crisp meadow';
/** Long enough (12+), but common passwords or patterns that zxcvbn sees through. */
const WEAK = ['password1234', 'qwertyuiop12', 'aaaaaaaaaaaaaaaa', '123456789012', 'iloveyou1234'];

let tmp: TmpDir;
let svc: KeyholdService;
beforeEach(() => {
  tmp = makeTmpDir('keyhold-strength-');
  svc = new KeyholdService();
});
afterEach(async () => {
  await svc.shutdown();
  tmp.remove();
});

describe('the strength estimate', () => {
  it('scores common passwords and patterns below the minimum, with feedback; unrelated words at or above it', async () => {
    const estimate = await loadStrengthEstimator();
    for (const p of WEAK) {
      const s = estimate(p);
      expect(s.tooShort, p).toBe(false);
      expect(s.score, p).toBeLessThan(MIN_STRENGTH_SCORE);
      expect(s.acceptable, p).toBe(false);
      expect(s.warning !== null || s.suggestions.length > 0, p).toBe(true);
    }
    for (const p of [SUITE_PASS, STRONG, STRONG_2]) {
      const s = estimate(p);
      expect(s.score, p).toBeGreaterThanOrEqual(MIN_STRENGTH_SCORE);
      expect(s.acceptable, p).toBe(true);
    }
    const short = estimate('Xk9#mQ2');
    expect(short.tooShort).toBe(true);
    expect(short.acceptable).toBe(false);
    expect(short.label).toBe(`too short (at least ${MIN_NEW_PASSPHRASE} characters)`);
    // English feedback, not zxcvbn's translation keys.
    expect(estimate('password1234').warning).toMatch(/^[A-Z].*\.$/);
  });

  it('uses the first 10,000 entries of the installed @zxcvbn-ts/language-common list, as generated', () => {
    const words = COMMON_PASSWORDS.split('\n');
    expect(words.length).toBe(10_000);
    expect(words.slice(0, 3)).toEqual(['123456', 'password', '12345678']);
    // The checked-in file is what build/strength-passwords.mjs writes from the installed package today.
    const file = fs.readFileSync(path.resolve(import.meta.dirname, '../../shared/strength-passwords.ts'), 'utf8');
    expect(file === passwordsModule(), 'shared/strength-passwords.ts is stale: run node build/strength-passwords.mjs').toBe(true);
  });

  it('requireStrongPassphrase: INVALID_INPUT naming the command and the score, never the passphrase', async () => {
    const e = await expectCode(() => requireStrongPassphrase('password1234', 'init', 'the passphrase'), 'INVALID_INPUT');
    expect(e.message).toMatch(/^init: the passphrase is too easy to guess \(strength [0-2] of 4, .*at least 3, strong, is needed\)$/);
    expect(e.message.includes('password1234')).toBe(false);
    expect(e.hint).toMatch(/unrelated words/);
    expect(e.hint?.includes('keyhold ')).toBe(false);
    await expect(requireStrongPassphrase(STRONG, 'init', 'the passphrase')).resolves.toBeUndefined();
  });
});

describe('the core enforces the minimum', () => {
  it('vault create: a weak passphrase is refused and no vault file is made; a strong one makes the vault', async () => {
    const file = path.join(tmp.dir, 'weak.khv');
    for (const p of WEAK) {
      const e = await expectCode(() => svc.call('vault.create', { path: file, passphrase: p, kdf: FAST_KDF }), 'INVALID_INPUT');
      expect(e.message).toMatch(/^init: the passphrase is too easy to guess/);
      expect(e.message.includes(p)).toBe(false);
    }
    expect(fs.existsSync(file)).toBe(false);
    const info = await svc.call('vault.create', { path: file, passphrase: SUITE_PASS, kdf: FAST_KDF });
    expect(info.keyslots.length).toBe(1);
    expect(fs.existsSync(file)).toBe(true);
  });

  it('slot add-passphrase and passphrase change: weak refused with nothing changed; strong accepted and opens the vault', async () => {
    const file = path.join(tmp.dir, 'vault.khv');
    await svc.call('vault.create', { path: file, passphrase: SUITE_PASS, kdf: FAST_KDF });
    const before = await svc.call('slot.list', {});

    const add = await expectCode(() => svc.call('slot.addPassphrase', { passphrase: 'password1234', label: 'weak', kdf: FAST_KDF }), 'INVALID_INPUT');
    expect(add.message).toMatch(/^slot add-passphrase: the passphrase is too easy to guess/);
    const change = await expectCode(() => svc.call('passphrase.change', { current: SUITE_PASS, next: 'qwertyuiop12', kdf: FAST_KDF }), 'INVALID_INPUT');
    expect(change.message).toMatch(/^passphrase change: the new passphrase is too easy to guess/);
    expect(await svc.call('slot.list', {})).toEqual(before);

    const slot = await svc.call('slot.addPassphrase', { passphrase: STRONG, label: 'backup', kdf: FAST_KDF });
    expect(slot).toMatchObject({ type: 'passphrase', label: 'backup' });
    await svc.call('passphrase.change', { current: SUITE_PASS, next: STRONG_2, kdf: FAST_KDF });
    await svc.call('vault.lock', {});
    await expectCode(() => svc.call('vault.unlock', { path: file, passphrase: SUITE_PASS }), 'WRONG_PASSPHRASE');
    expect((await svc.call('vault.unlock', { path: file, passphrase: STRONG_2 })).keyslots.length).toBe(2);
    await svc.call('vault.lock', {});
    expect((await svc.call('vault.unlock', { path: file, passphrase: STRONG })).keyslots.length).toBe(2);
  });

  it('a locked vault answers VAULT_LOCKED before any strength check', async () => {
    await expectCode(() => svc.call('slot.addPassphrase', { passphrase: 'password1234', kdf: FAST_KDF }), 'VAULT_LOCKED');
    await expectCode(() => svc.call('passphrase.change', { current: 'x', next: 'password1234', kdf: FAST_KDF }), 'VAULT_LOCKED');
  });

  it('through the IPC router too: the app gets the same refusal as an error envelope', async () => {
    const { router } = makeTestRouter({ vaultPath: path.join(tmp.dir, 'app.khv') });
    try {
      const r = await router.handle('vault.create', TEST_SENDER, { passphrase: 'password1234' });
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expect(r.error.code).toBe('INVALID_INPUT');
        expect(r.error.message).toMatch(/too easy to guess/);
      }
      expect(fs.existsSync(path.join(tmp.dir, 'app.khv'))).toBe(false);
      const ok = await router.handle('vault.create', TEST_SENDER, { passphrase: SUITE_PASS });
      expect(ok.ok).toBe(true);
    } finally {
      await router.service.shutdown();
      router.dispose();
    }
  });

  it('every error is a KeyholdError (no stray exception from the estimator)', async () => {
    let thrown: unknown = null;
    try {
      await requireStrongPassphrase('aaaaaaaaaaaaaaaa', 'init', 'the passphrase');
    } catch (e) {
      thrown = e;
    }
    expect(isKeyholdError(thrown)).toBe(true);
  });
});

describe('the CLI checks a typed passphrase before asking for it again', () => {
  it('init on a terminal: a weak passphrase is refused at once (no "Repeat it", no calibration, no vault); a strong one is asked twice', async () => {
    const { keyholdOnTty } = await import('../cli/run.js');
    const file = path.join(tmp.dir, 'weak.db');
    const weak = await keyholdOnTty(['--vault', file, 'init', '--kdf-memory', '19', '--kdf-passes', '2', '--kdf-parallelism', '1'],
      [{ prompt: 'New vault passphrase: ', reply: WEAK[0] as string }]);
    expect(weak.code).toBe(2);
    expect(weak.stdout).toMatch(/too easy to guess/);
    expect(weak.stdout).not.toContain('Repeat it');
    expect(weak.stdout).not.toContain(WEAK[0] as string);
    expect(fs.existsSync(file)).toBe(false);
    const strong = await keyholdOnTty(['--vault', file, 'init', '--kdf-memory', '19', '--kdf-passes', '2', '--kdf-parallelism', '1'],
      [{ prompt: 'New vault passphrase: ', reply: STRONG }, { prompt: 'Repeat it: ', reply: STRONG }]);
    expect(strong.code, strong.stdout.slice(-300)).toBe(0);
    expect(fs.existsSync(file)).toBe(true);
  }, 60_000);
});
