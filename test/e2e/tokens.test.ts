/**
 * Tokens in the app, end to end: the built renderer in Chromium over the real
 * router and core, on REAL SoftHSM2 tokens made for this file (their own
 * SOFTHSM2_CONF). The Tokens screen lists the tokens present live (hotplug by
 * polling), shows an uninitialised slot as such, lists keys and generates a
 * signing key with the PIN; the unlock screen opens a vault with a token and
 * its PIN; and the PIN rules hold in the UI: the final try is not spent
 * without the confirmation, a locked PIN is refused without a call.
 *
 * SoftHSM2 never reports a final try or a locked PIN (docs/tokens.md 3.3): a
 * wrong PIN only sets its count-low flag. Those two states are brought about
 * as the core's own tests do: the fault-injecting driver (test/token/fault-driver.ts)
 * wraps the real pkcs11js over the real SoftHSM2 token and ORs the flag into
 * C_GetTokenInfo's answer; every other call reaches the token, and its call
 * log (names only) shows whether C_Login was made.
 */
import path from 'node:path';
import pkcs11js from 'pkcs11js';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TokenInfo } from '../../shared/contract.js';
import { DEFAULT_PIN, setupSoftHsm, type SoftHsm } from '../helpers/softhsm.js';
import { makeTmpDir, type TmpDir } from '../helpers/tmp.js';
import { FaultInjector } from '../token/fault-driver.js';
import { App, electronMode, launchBrowser, expectAccessible } from './app.js';
import type { PageGlobal } from './page-types.js';

const PASS = 'correct horse battery staple';
const WRONG_PIN = '000000';

let browser: Browser | null = null;
let hsm: SoftHsm;
let tmp: TmpDir;
let app: App;
let serialA = '';
const inj = new FaultInjector();
/** Every command the page called, in order (names only). */
const calls: string[] = [];

/** The core's view of a token, straight from the router's service (not through the page). */
async function coreToken(serial: string): Promise<TokenInfo> {
  const list = await app.router!.service.call('token.list', {});
  const t = list.find((x) => !x.empty && x.serial === serial);
  if (!t) throw new Error(`token ${serial} not present`);
  return t;
}

function logins(mark: number): number {
  return inj.since(mark).filter((c) => c === 'C_Login').length;
}

beforeAll(async () => {
  // Browser mode only: the token module, fault driver and call log live in the test's router.
  if (electronMode()) return;
  hsm = setupSoftHsm([{ label: 'keyhold-a' }, { label: 'spare' }]);
  serialA = hsm.serial('keyhold-a');
  tmp = makeTmpDir('keyhold-e2e-tokens-');
  browser = await launchBrowser();
  app = await App.launch(browser, {
    vaultPath: path.join(tmp.dir, 'vault.db'),
    router: {
      service: { tokens: { module: hsm.module, driverFactory: inj.factory } },
      tokenWatch: { pollMs: 200, debounceMs: 10, usb: null },
    },
    onCall: (command) => calls.push(command),
  });
});

afterAll(async () => {
  inj.tokenFlags = 0;
  await app?.close();
  await browser?.close();
  hsm?.cleanup();
  tmp?.remove();
});

describe.skipIf(electronMode())('tokens in the app (SoftHSM2)', () => {
  it('Tokens screen: tokens present with their PIN state, the empty slot as uninitialised, a signing key generated with the PIN, live removal', async () => {
    const page = app.page;
    await app.waitForScreen('create-vault');
    await app.createVault(PASS);
    await app.waitForScreen('keys');
    await page.getByTestId('nav-tokens').click();
    await page.waitForSelector('main[data-screen="tokens"]');

    const card = page.locator(`[data-testid="token-card"][data-serial="${serialA}"]`);
    await card.waitFor();
    await expect.poll(() => page.getByTestId('token-card').count()).toBe(2);
    expect(await card.getByTestId('token-serial').textContent()).toBe(serialA);
    expect(await card.getByTestId('token-pin').getAttribute('data-pin-state')).toBe('ok');
    expect(await card.locator('h2').textContent()).toBe('keyhold-a');
    // SoftHSM2's free slot: shown as uninitialised, its badge "no PIN", not "PIN ok".
    const empty = page.getByTestId('token-empty');
    expect(await empty.count()).toBe(1);
    expect(await empty.getByTestId('token-empty-pin').getAttribute('data-pin-state')).toBe('empty');
    expect(await empty.textContent()).toMatch(/Uninitialised slot/);
    expect(await empty.textContent()).not.toMatch(/PIN ok/);
    // A fresh token has no keys; the list was read without a PIN.
    await card.getByTestId('token-no-keys').waitFor();

    // Generate a signing key: label, algorithm, PIN.
    await card.getByTestId('keygen-open').click();
    await card.getByTestId('keygen-submit').click();
    await expect.poll(() => card.locator('.field-error').allTextContents()).toEqual(['the key label is empty']);
    await card.getByTestId('keygen-label').fill('signer-1');
    await card.getByTestId('keygen-alg').selectOption('ES256');
    expect(await card.getByTestId('keygen-pin-state').getAttribute('data-pin-state')).toBe('ok');
    await card.getByTestId('keygen-pin').fill(DEFAULT_PIN);
    await app.screenshot('tokens-keygen-form');
    expectAccessible('tokens-keygen', await app.axe());
    await card.getByTestId('keygen-submit').click();
    const row = card.locator('[data-testid="token-key"][data-label="signer-1"]');
    await row.waitFor();
    expect(await row.getAttribute('data-alg')).toBe('ES256');
    expect(await row.getAttribute('data-can-sign')).toBe('true');
    // The kid shown is the one the core reports for the key on the token.
    const onToken = (await app.router!.service.call('token.keys', { token: serialA })) as Array<{ keys: Array<{ label: string; kid: string | null }> }>;
    const kid = onToken[0]?.keys.find((k) => k.label === 'signer-1')?.kid;
    expect(kid).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(await row.locator('.kid code').textContent()).toBe(kid);
    expect(await card.getByTestId('keygen-form').count()).toBe(0);

    expectAccessible('tokens', await app.recordMatrix('tokens'));

    // Private keys of another token: the PIN asked for that token, by name; the list then says it holds none.
    const spare = page.locator('[data-testid="token-card"][data-label="spare"]');
    await spare.getByTestId('show-private').click();
    expect(await spare.locator('label', { hasText: 'PIN for' }).textContent()).toContain(`'spare' (serial ${hsm.serial('spare')}) to list its private keys`);
    await spare.getByTestId('keys-login-pin').fill(DEFAULT_PIN);
    await spare.getByTestId('keys-login-submit').click();
    await expect.poll(() => spare.getByTestId('token-no-keys').textContent()).toBe('This token holds no keys.');
    expect(await spare.getByTestId('show-private').count()).toBe(0);

    // Hotplug: a token removed goes from the screen without any action (tokens.changed).
    hsm.deleteToken('spare');
    await expect.poll(() => page.getByTestId('token-card').count(), { timeout: 10_000 }).toBe(1);
    expect(app.events.some((e) => e.name === 'tokens.changed')).toBe(true);
    expect(await card.count()).toBe(1);
  });

  it('unlock with the token: a token keyslot added over IPC, then lock, a wrong PIN (field cleared, count low shown), the right PIN opens the vault', async () => {
    const page = app.page;
    const added = await page.evaluate(
      async ([serial, pin]) => (globalThis as unknown as PageGlobal).keyhold!.slotAddToken!({ token: serial, keyLabel: 'vault-unlock', pin }),
      [serialA, DEFAULT_PIN] as const,
    );
    expect(added.ok).toBe(true);

    await app.lock();
    // The passphrase stays the default until a token has opened the vault.
    expect(await page.getByTestId('method-passphrase').isChecked()).toBe(true);
    await page.getByTestId('method-token').check();
    const option = page.getByTestId(`token-option-${serialA}`);
    await option.waitFor();
    expect(await option.isChecked()).toBe(true); // the only token present
    expect(await page.getByTestId(`token-pin-${serialA}`).getAttribute('data-pin-state')).toBe('ok');
    expect(await page.getByTestId('empty-slots-note').count()).toBe(1);
    expectAccessible('unlock-token', await app.recordMatrix('unlock-token'));

    // A wrong PIN: one C_Login, the error shown, the field emptied, the token's new state (count low) shown.
    const m = inj.mark();
    await page.getByTestId('unlock-token-pin').fill(WRONG_PIN);
    await page.getByTestId('unlock-token-submit').click();
    await page.getByTestId('unlock-token-error').waitFor();
    expect(await page.getByTestId('unlock-token-error').locator('[data-code]').getAttribute('data-code')).toBe('TOKEN_PIN_INCORRECT');
    expect(logins(m)).toBe(1);
    expect(await page.getByTestId('unlock-token-pin').inputValue()).toBe('');
    await expect.poll(() => page.getByTestId('unlock-token-pin-state').getAttribute('data-pin-state')).toBe('count-low');
    expect((await coreToken(serialA)).pin?.countLow).toBe(true);
    await app.screenshot('unlock-token-wrong-pin');

    await page.getByTestId('unlock-token-pin').fill(DEFAULT_PIN);
    await page.getByTestId('unlock-token-pin').press('Enter');
    await app.waitForScreen('keys');
    expect(calls.filter((c) => c === 'vault.unlockToken')).toHaveLength(2);
    expect(calls).not.toContain('vault.unlock');
  });

  it('PIN safety: at the final try no login until the confirmation (cancel keeps the try); a locked PIN is refused with no call', async () => {
    const page = app.page;
    await app.lock();
    // The method that opened the vault last is preselected.
    expect(await page.getByTestId('method-token').isChecked()).toBe(true);
    await page.getByTestId(`token-option-${serialA}`).waitFor();

    // Walk the real token toward its end as far as SoftHSM2 goes (a wrong PIN through the core: count low) ...
    await expect(app.router!.service.call('token.keys', { token: serialA, login: true, pin: WRONG_PIN })).rejects.toMatchObject({ code: 'TOKEN_PIN_INCORRECT' });
    expect((await coreToken(serialA)).pin?.countLow).toBe(true);
    // ... and the last step by the fault driver: the token reports one try left.
    inj.tokenFlags = pkcs11js.CKF_USER_PIN_FINAL_TRY;
    try {
      await page.getByTestId('tokens-refresh').click();
      await expect.poll(() => page.getByTestId(`token-pin-${serialA}`).getAttribute('data-pin-state')).toBe('final-try');
      expect(await page.getByTestId('unlock-token-pin-state').textContent()).toMatch(/One PIN try is left/);
      const before = (await coreToken(serialA)).pin;
      expect(before?.finalTry).toBe(true);

      const m = inj.mark();
      const callsBefore = calls.length;
      await page.getByTestId('unlock-token-pin').fill(DEFAULT_PIN);
      await page.getByTestId('unlock-token-submit').click();
      const dialog = page.getByTestId('unlock-token-final-dialog');
      await dialog.waitFor();
      expect(await dialog.evaluate((d) => (d as unknown as { open: boolean }).open)).toBe(true);
      // The dialog names the token; the safe choice has the focus.
      expect(await dialog.textContent()).toContain(`'keyhold-a' (serial ${serialA})`);
      expect(await app.focusedTestId()).toBe('unlock-token-final-cancel');
      await app.screenshot('unlock-token-final-dialog');
      expectAccessible('unlock-token-final-dialog', await app.axe());
      // Nothing was sent: no unlock call, no C_Login on the token.
      expect(calls.slice(callsBefore)).not.toContain('vault.unlockToken');
      expect(logins(m)).toBe(0);

      // Cancel: the try is kept (same state on the token), the PIN gone from the field.
      await page.getByTestId('unlock-token-final-cancel').click();
      await dialog.waitFor({ state: 'detached' });
      expect(await page.getByTestId('unlock-token-pin').inputValue()).toBe('');
      expect(calls.slice(callsBefore)).not.toContain('vault.unlockToken');
      expect(logins(m)).toBe(0);
      expect((await coreToken(serialA)).pin).toEqual(before);

      // Esc closes the dialog the same way.
      await page.getByTestId('unlock-token-pin').fill(DEFAULT_PIN);
      await page.getByTestId('unlock-token-submit').click();
      await dialog.waitFor();
      await page.keyboard.press('Escape');
      await dialog.waitFor({ state: 'detached' });
      expect(logins(m)).toBe(0);
      expect(calls.slice(callsBefore)).not.toContain('vault.unlockToken');

      // Confirmed: exactly one login, with allowFinalTry, and the vault opens.
      await page.getByTestId('unlock-token-pin').fill(DEFAULT_PIN);
      await page.getByTestId('unlock-token-submit').click();
      await dialog.waitFor();
      await page.getByTestId('unlock-token-final-confirm').click();
      await app.waitForScreen('keys');
      expect(logins(m)).toBe(1);
      expect(calls.slice(callsBefore).filter((c) => c === 'vault.unlockToken')).toHaveLength(1);
    } finally {
      inj.tokenFlags = 0;
    }

    // Locked: refused with the reason, no PIN field, no call, no login.
    await app.lock();
    inj.tokenFlags = pkcs11js.CKF_USER_PIN_LOCKED;
    try {
      await page.getByTestId('tokens-refresh').click();
      const refused = page.getByTestId('unlock-token-refused');
      await refused.waitFor();
      expect(await refused.textContent()).toMatch(/is locked/);
      expect(await refused.textContent()).toMatch(/Nothing was sent to the token/);
      expect(await page.getByTestId(`token-pin-${serialA}`).getAttribute('data-pin-state')).toBe('locked');
      expect(await page.getByTestId('unlock-token-pin').count()).toBe(0);
      expect(await page.getByTestId('unlock-token-submit').count()).toBe(0);
      const m = inj.mark();
      const callsBefore = calls.length;
      // Enter anywhere does nothing either: there is no form to submit.
      await page.keyboard.press('Enter');
      await app.screenshot('unlock-token-locked');
      expectAccessible('unlock-token-locked', await app.axe());
      expect(calls.slice(callsBefore)).not.toContain('vault.unlockToken');
      expect(logins(m)).toBe(0);
      expect(await app.screenName()).toBe('unlock');

      // On the Tokens screen too: unlocked by passphrase, generating a key on the locked token asks no PIN.
      await page.getByTestId('method-passphrase').check();
      await app.unlock(PASS);
      await app.waitForScreen('keys');
      await page.getByTestId('nav-tokens').click();
      const card = page.locator(`[data-testid="token-card"][data-serial="${serialA}"]`);
      await card.waitFor();
      expect(await card.getByTestId('token-pin').getAttribute('data-pin-state')).toBe('locked');
      // Without a login, the keyslot's key is told from the signing key by its public half.
      const slotKey = card.locator('[data-testid="token-key"][data-label="vault-unlock"]');
      await slotKey.waitFor();
      expect(await slotKey.getAttribute('data-can-sign')).toBe('false');
      expect(await slotKey.textContent()).toContain('Vault keyslot');
      expect(await card.locator('[data-testid="token-key"][data-label="signer-1"]').getAttribute('data-can-sign')).toBe('true');
      await card.getByTestId('keygen-open').click();
      await card.getByTestId('keygen-refused').waitFor();
      expect(await card.getByTestId('keygen-pin').count()).toBe(0);
      expect(calls.slice(callsBefore)).not.toContain('token.keygen');
      expect(logins(m)).toBe(0);
    } finally {
      inj.tokenFlags = 0;
    }
  });
});
