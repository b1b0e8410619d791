/**
 * Keyslots in the app, end to end: the built renderer in Chromium over the
 * real router, core and vault file, with a REAL SoftHSM2 token for the token
 * keyslot. New passphrases get zxcvbn's meter (with its warning and
 * suggestions), a show/hide toggle and a caps-lock warning; the core refuses a
 * weak one too. A passphrase keyslot is added, the passphrase changed, and the
 * vault locked and opened again with the new one; a token keyslot is added
 * with the PIN; removing the last passphrase keyslot warns that the vault will
 * then open only with the token.
 */
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_PIN, setupSoftHsm, type SoftHsm } from '../helpers/softhsm.js';
import { makeTmpDir, type TmpDir } from '../helpers/tmp.js';
import { App, electronMode, launchBrowser, expectAccessible } from './app.js';

const PASS = 'correct horse battery staple';
const BACKUP_PASS = 'lantern quarry velvet orbit thistle';
const NEW_PASS = 'walnut harbour sixty crisp meadow';
const WEAK = 'password1234';

let browser: Browser | null = null;
let hsm: SoftHsm;
let tmp: TmpDir;
let app: App;
let serial = '';
/** Every command the page called, in order (names only). */
const calls: string[] = [];
const pageErrors: string[] = [];

async function rows(page: Page): Promise<number> {
  return page.getByTestId('keyslot-row').count();
}

/** Types into a new-passphrase field with a key event that reports Caps Lock on, as a real keyboard would. */
async function capsLockKey(page: Page, testId: string): Promise<void> {
  await page.getByTestId(testId).dispatchEvent('keydown', { key: 'A', code: 'KeyA', modifierCapsLock: true, bubbles: true });
}

beforeAll(async () => {
  if (electronMode()) return;
  hsm = setupSoftHsm([{ label: 'keyhold-ks' }]);
  serial = hsm.serial('keyhold-ks');
  tmp = makeTmpDir('keyhold-e2e-keyslots-');
  browser = await launchBrowser();
  app = await App.launch(browser, {
    vaultPath: path.join(tmp.dir, 'vault.db'),
    router: { service: { tokens: { module: hsm.module } } },
    onCall: (command) => calls.push(command),
  });
  // A render error blanks the screen: every one is collected and the last test expects none.
  app.page.on('pageerror', (e) => pageErrors.push(e.message));
});

afterAll(async () => {
  await app?.close();
  await browser?.close();
  hsm?.cleanup();
  tmp?.remove();
});

describe.skipIf(electronMode())('keyslots in the app (SoftHSM2)', () => {
  it('create vault: zxcvbn meter with feedback, show/hide, caps lock; a weak passphrase is refused at the field', async () => {
    const page = app.page;
    await app.waitForScreen('create-vault');
    const field = page.getByTestId('new-passphrase');
    await field.focus();
    await field.fill(WEAK);
    await expect.poll(() => page.getByTestId('strength-label').textContent()).toMatch(/Strength: (very weak|weak|fair)$/);
    expect(await page.getByTestId('strength').getAttribute('data-level')).toBe('weak');
    expect(Number(await page.getByTestId('strength-meter').getAttribute('value'))).toBeLessThan(3);
    expect(await page.getByTestId('strength-warning').textContent()).toMatch(/common password/);
    expect(await page.getByTestId('strength-suggestions').count()).toBe(1);

    // Show/hide: one toggle for both fields, its state in aria-pressed.
    const toggle = page.getByTestId('show-passphrase');
    expect(await toggle.getAttribute('aria-pressed')).toBe('false');
    expect(await field.getAttribute('type')).toBe('password');
    await toggle.click();
    expect(await toggle.getAttribute('aria-pressed')).toBe('true');
    expect(await field.getAttribute('type')).toBe('text');
    expect(await page.getByTestId('confirm-passphrase').getAttribute('type')).toBe('text');
    await toggle.click();
    expect(await field.getAttribute('type')).toBe('password');

    // Caps Lock: warned while on, gone when a key reports it off.
    expect(await page.getByTestId('caps-lock').count()).toBe(0);
    await capsLockKey(page, 'new-passphrase');
    await page.getByTestId('caps-lock').waitFor();
    expect(await page.getByTestId('caps-lock').textContent()).toBe('Caps Lock is on.');
    await field.press('End');
    await expect.poll(() => page.getByTestId('caps-lock').count()).toBe(0);

    // Submitting the weak one: refused at the field, nothing sent to the core.
    const before = calls.length;
    await page.getByTestId('confirm-passphrase').fill(WEAK);
    await page.getByTestId('create-vault').click();
    await page.locator('.field-error', { hasText: 'too easy to guess' }).waitFor();
    expect(calls.slice(before)).not.toContain('vault.create');
    expect(await app.screenName()).toBe('create-vault');

    await field.fill(PASS);
    await expect.poll(() => page.getByTestId('strength-label').textContent()).toMatch(/strong/);
    expect(await page.getByTestId('strength').getAttribute('data-level')).toBe('ok');
    await app.createVault(PASS);
    await app.waitForScreen('keys');
  });

  it('Keyslots: the list, add a passphrase keyslot, change the passphrase, lock and unlock with the new one', async () => {
    const page = app.page;
    await page.getByTestId('nav-keyslots').click();
    await page.waitForSelector('main[data-screen="keyslots"]');
    await expect.poll(() => rows(page)).toBe(1);
    // The only keyslot cannot be removed: the button is disabled and says why.
    expect(await page.getByTestId('keyslot-remove').isDisabled()).toBe(true);
    await page.getByTestId('keyslot-only').waitFor();
    expect(await page.getByTestId('keyslot-row').first().getAttribute('data-type')).toBe('passphrase');

    // Add a passphrase keyslot: the meter, a weak one refused at the field, then a strong one.
    await page.getByTestId('keyslot-add-passphrase').click();
    await page.getByTestId('keyslot-panel-add-passphrase').waitFor();
    await page.getByTestId('slot-label').fill('backup');
    await page.getByTestId('new-passphrase').focus();
    await page.getByTestId('new-passphrase').fill(WEAK);
    await page.getByTestId('confirm-passphrase').fill(WEAK);
    await capsLockKey(page, 'confirm-passphrase');
    await page.getByTestId('caps-lock').waitFor();
    await page.getByTestId('strength-warning').waitFor();
    expectAccessible('keyslot-add-passphrase', await app.recordMatrix('keyslot-add-passphrase'));
    const before = calls.length;
    await page.getByTestId('add-passphrase-submit').click();
    await page.locator('.field-error', { hasText: 'too easy to guess' }).waitFor();
    expect(calls.slice(before)).not.toContain('slot.addPassphrase');

    await page.getByTestId('new-passphrase').fill(BACKUP_PASS);
    await page.getByTestId('confirm-passphrase').fill(BACKUP_PASS);
    await page.getByTestId('add-passphrase-submit').click();
    await expect.poll(() => rows(page), { timeout: 30_000 }).toBe(2);
    await app.waitForAnnouncement(/Passphrase keyslot #2 added/);
    expect(await page.getByTestId('keyslot-panel-add-passphrase').count()).toBe(0);
    const backupRow = page.locator('[data-testid="keyslot-row"][data-id="2"]');
    expect(await backupRow.textContent()).toMatch(/backup/);
    expect(await page.getByTestId('keyslot-remove').first().isDisabled()).toBe(false);

    // The core holds the same rule: a weak passphrase sent past the form is refused.
    const refused = await app.router!.service.call('slot.addPassphrase', { passphrase: WEAK }).then(() => null, (e: unknown) => e);
    expect((refused as { code?: string } | null)?.code).toBe('INVALID_INPUT');

    // Change the passphrase: a wrong current one is refused, then the right one.
    await page.getByTestId('keyslot-change-passphrase').click();
    await page.getByTestId('keyslot-panel-change').waitFor();
    await page.getByTestId('current-passphrase').fill('not the passphrase at all');
    await page.getByTestId('new-passphrase').fill(NEW_PASS);
    await page.getByTestId('confirm-passphrase').fill(NEW_PASS);
    await page.getByTestId('change-passphrase-submit').click();
    await page.locator('[data-testid="error"][data-code="WRONG_PASSPHRASE"]').waitFor({ timeout: 30_000 });
    // Nothing typed stays in the page after the call.
    expect(await page.getByTestId('current-passphrase').inputValue()).toBe('');
    expect(await page.getByTestId('new-passphrase').inputValue()).toBe('');
    await page.getByTestId('current-passphrase').fill(PASS);
    await page.getByTestId('new-passphrase').fill(NEW_PASS);
    await page.getByTestId('confirm-passphrase').fill(NEW_PASS);
    await page.getByTestId('change-passphrase-submit').click();
    await app.waitForAnnouncement(/Passphrase of keyslot #1 changed/, 30_000);
    expect(await rows(page)).toBe(2);

    await app.lock();
    await app.unlock(PASS);
    await page.locator('[data-testid="unlock-error"] [data-code="WRONG_PASSPHRASE"]').waitFor({ timeout: 30_000 });
    await app.unlock(NEW_PASS);
    await app.waitForScreen('keys', 30_000);
  });

  it('token keyslot with the PIN; the last-passphrase warning before removing it; screenshots and axe', async () => {
    const page = app.page;
    await page.getByTestId('nav-keyslots').click();
    await expect.poll(() => rows(page)).toBe(2);

    await page.getByTestId('keyslot-add-token').click();
    const form = page.getByTestId('add-token-form');
    await form.waitFor();
    // The only token present is chosen; its PIN state shows before a PIN is typed.
    await form.locator(`[data-testid="keyslot-token"][data-serial="${serial}"] input`).waitFor();
    expect(await form.locator(`[data-testid="keyslot-token"][data-serial="${serial}"] input`).isChecked()).toBe(true);
    expect(await page.getByTestId('keyslot-pin-pin-state').getAttribute('data-pin-state')).toBe('ok');
    expect(await page.getByTestId('keyslot-key').inputValue()).toBe('');
    await page.getByTestId('keyslot-new-key-label').fill('vault-unlock');
    await page.getByTestId('keyslot-token-label').fill('card of the custodian');
    expectAccessible('keyslot-add-token', await app.recordMatrix('keyslot-add-token'));
    await page.getByTestId('keyslot-pin-pin').fill(DEFAULT_PIN);
    await page.getByTestId('keyslot-pin-submit').click();
    await expect.poll(() => rows(page), { timeout: 30_000 }).toBe(3);
    await app.waitForAnnouncement(/Token keyslot #3 added/);
    const tokenRow = page.locator('[data-testid="keyslot-row"][data-type="token"]');
    expect(await tokenRow.getByTestId('slot-serial').textContent()).toBe(serial);
    expect(await tokenRow.getByTestId('slot-key-label').textContent()).toBe('vault-unlock');
    expect(await tokenRow.getByTestId('slot-token').textContent()).toBe('keyhold-ks');
    expect(await tokenRow.textContent()).toMatch(/card of the custodian/);
    // The PIN was not kept in the page.
    expect(await page.getByTestId('keyslot-pin-pin').count()).toBe(0);
    expectAccessible('keyslots', await app.recordMatrix('keyslots'));

    // Remove the backup passphrase: another passphrase keyslot stays, so no token-only warning.
    await page.locator('[data-testid="keyslot-row"][data-id="2"]').getByTestId('keyslot-remove').click();
    const dialog = page.getByTestId('keyslot-remove-dialog');
    await dialog.waitFor();
    expect(await dialog.textContent()).toMatch(/Remove keyslot #2\?/);
    expect(await page.getByTestId('last-passphrase-warning').count()).toBe(0);
    expect(calls.filter((c) => c === 'slot.remove').length).toBe(1);
    await page.getByTestId('keyslot-remove-confirm').click();
    await expect.poll(() => rows(page)).toBe(2);
    expect(calls.filter((c) => c === 'slot.remove').length).toBe(2);

    // The last passphrase keyslot: the dry run tells the app, which warns that only the token will open the vault.
    await page.locator('[data-testid="keyslot-row"][data-id="1"]').getByTestId('keyslot-remove').click();
    await dialog.waitFor();
    const warning = page.getByTestId('last-passphrase-warning');
    await warning.waitFor();
    expect(await warning.textContent()).toMatch(/opens only with a token/);
    expect(await warning.textContent()).toContain(`serial ${serial}`);
    expect(await page.getByTestId('keyslot-remove-confirm').textContent()).toMatch(/only with a token/);
    expectAccessible('keyslot-remove-last', await app.recordMatrix('keyslot-remove-last'));
    // Cancel keeps it: the dry run changed nothing.
    await page.getByTestId('keyslot-remove-cancel').click();
    await expect.poll(() => dialog.count()).toBe(0);
    expect((await app.router!.service.call('slot.list', {})).map((s) => s.type)).toEqual(['passphrase', 'token']);
    expect(await rows(page)).toBe(2);
    expect(pageErrors).toEqual([]);
  });
});
