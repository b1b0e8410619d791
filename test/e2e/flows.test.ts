/**
 * The first screens end to end: the built renderer in Chromium, wired to the
 * real core through the router main uses (see app.ts). Each screen is
 * screenshotted (test/e2e/screenshots/) and checked with axe-core: no serious
 * or critical violation.
 */
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isValidApiKey } from '../../shared/apikey.js';
import { tmpDir } from '../helpers/tmp.js';
import { App, electronMode, launchBrowser, expectAccessible } from './app.js';
import type { PageGlobal } from './page-types.js';

const PASS = 'correct horse battery staple';

let browser: Browser | null = null;

beforeAll(async () => {
  if (!electronMode()) browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
});

function vaultIn(dir: string): string {
  return path.join(dir, 'vault.db');
}

describe('first screens', () => {
  it('create vault, three keys, filter, reveal, lock, wrong then right passphrase', async () => {
    const app = await App.launch(browser, { vaultPath: vaultIn(tmpDir('keyhold-e2e-')) });
    const page = app.page;
    const cspErrors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') cspErrors.push(m.text());
    });
    try {
      // Create vault: strength shown as typed; mismatch caught at the field.
      await app.waitForScreen('create-vault');
      expectAccessible('create-vault', await app.record('01-create-vault'));
      await page.getByTestId('new-passphrase').fill('short');
      await expect.poll(() => page.getByTestId('strength-label').textContent()).toMatch(/too short/);
      await app.createVault(PASS, `${PASS}x`);
      await expect.poll(() => page.locator('.field-error').allTextContents()).toEqual(['the two passphrases differ']);
      expect(await page.getByTestId('strength-label').textContent()).toMatch(/strong/);
      expectAccessible('create-vault-errors', await app.record('02-create-vault-errors'));
      await app.createVault(PASS);
      await app.waitForScreen('keys');
      await page.getByTestId('empty-vault').waitFor();
      expectAccessible('keys-empty', await app.record('03-keys-empty'));

      // Create key: validation messages at the field, from the contract's schema.
      await app.openCreateKey();
      await app.fillKeyForm({ name: '-bad name', service: '', scopes: 'ok:read, bad scope!' });
      await page.getByTestId('submit-key').click();
      await page.getByTestId('error-name').waitFor();
      expect(await page.getByTestId('error-name').textContent()).toMatch(/name must be 1-64 characters/);
      expect(await page.getByTestId('error-service').textContent()).toMatch(/service must be/);
      expect(await page.getByTestId('error-scopes').textContent()).toMatch(/scope/);
      expect(await page.getByTestId('field-name').getAttribute('aria-invalid')).toBe('true');
      // Focus goes to the first field in error.
      expect(await app.focusedTestId()).toBe('field-name');
      expectAccessible('create-key-errors', await app.record('04-create-key-errors'));
      await page.getByRole('button', { name: 'Cancel' }).click();
      await app.waitForScreen('keys');

      await app.createKey({ name: 'checkout', service: 'payments', scopes: 'charges:write, refunds:write' });
      await app.createKey({ name: 'ledger-sync', service: 'accounting', environment: 'staging', scopes: 'ledger:read' });
      await app.createKey({ name: 'webhooks', service: 'payments', environment: 'staging' });
      await app.waitForKeyCount(3);
      // A duplicate is refused by the core and shown at the name field.
      await app.openCreateKey();
      await app.fillKeyForm({ name: 'checkout', service: 'payments' });
      await page.getByTestId('submit-key').click();
      await page.getByTestId('error-name').filter({ hasText: /already exists/ }).waitFor();
      await page.getByRole('button', { name: 'Cancel' }).click();
      await app.waitForScreen('keys');
      expectAccessible('keys-list', await app.record('05-keys-list'));

      // Filter: by text, by service, by environment, and nothing matching.
      await app.search('webh');
      await app.waitForKeyCount(1);
      expect(await app.visibleKeyNames()).toEqual(['webhooks']);
      await app.search('');
      await app.filterBy('service', 'payments');
      await app.waitForKeyCount(2);
      expect((await app.visibleKeyNames()).sort()).toEqual(['checkout', 'webhooks']);
      await app.filterBy('environment', 'staging');
      await app.waitForKeyCount(1);
      expect(await app.visibleKeyNames()).toEqual(['webhooks']);
      await app.filterBy('state', 'revoked');
      await app.waitForKeyCount(0);
      expectAccessible('keys-no-match', await app.record('06-keys-no-match'));
      await app.filterBy('state', '');
      await app.filterBy('service', '');
      await app.filterBy('environment', '');
      await app.waitForKeyCount(3);

      // Keyboard: into the list, arrow to a row, Enter opens it.
      await page.getByTestId('key-list').focus();
      await page.keyboard.press('Home');
      await page.keyboard.press('Enter');
      await page.getByTestId('key-detail').waitFor();

      // Detail and reveal: masked until asked; the secret is a valid Keyhold key.
      await app.openKey('ledger-sync');
      await page.getByTestId('secret-masked').waitFor();
      expect(await page.getByTestId('key-detail').textContent()).toMatch(/accounting[\s\S]*staging[\s\S]*ledger:read/);
      expectAccessible('key-detail', await app.record('07-key-detail'));
      const secret = await app.reveal();
      expect(isValidApiKey(secret)).toBe(true);
      await app.screenshot('08-key-revealed');
      expectAccessible('key-revealed', await app.axe());
      // Closing the view drops the secret from the page.
      await page.getByTestId('close-detail').click();
      await page.getByTestId('key-detail').waitFor({ state: 'detached' });
      // Booleans, not toContain: a failure message must not print the secret.
      expect((await page.content()).includes(secret), 'secret still in the page').toBe(false);

      // Copy: main puts the secret on the clipboard; the page never receives it.
      await app.openKey('checkout');
      await page.getByTestId('copy').click();
      await app.waitForAnnouncement(/copied/i);
      if (app.router) {
        expect(isValidApiKey(app.clipboard.text)).toBe(true);
        expect((await page.content()).includes(app.clipboard.text), 'copied secret in the page').toBe(false);
      }

      // Lock: back to the unlock screen, nothing of the vault left in the page.
      await app.lock();
      expect(await page.content()).not.toContain('ledger-sync');
      if (app.router) expect(app.clipboard.text).toBe('');
      expectAccessible('unlock', await app.record('09-unlock'));

      // Wrong passphrase: a clear message, focus back in the field, no crash.
      await app.unlock('not the passphrase');
      await page.getByTestId('unlock-error').filter({ hasText: 'Wrong passphrase' }).waitFor();
      expect(await page.getByTestId('passphrase').inputValue()).toBe('');
      expect(await app.focusedTestId()).toBe('passphrase');
      expectAccessible('unlock-wrong', await app.record('10-unlock-wrong'));

      // Right passphrase: the keys are back.
      await app.unlock(PASS);
      await app.waitForScreen('keys');
      await app.waitForKeyCount(3);
      expect(cspErrors).toEqual([]);
    } finally {
      await app.close();
    }
  });

  it('locks itself after idle time and returns to the unlock screen with a notice', async () => {
    // 0.04 minutes = 2.4 s of inactivity.
    const app = await App.launch(browser, { vaultPath: vaultIn(tmpDir('keyhold-e2e-')), settings: { autoLockMinutes: 0.04 } });
    try {
      await app.createVault(PASS);
      await app.waitForScreen('keys');
      await app.waitForScreen('unlock', 10_000);
      await app.page.getByTestId('idle-notice').waitFor();
      if (app.router) expect(app.events.some((e) => e.name === 'vault.locked' && e.payload.reason === 'idle')).toBe(true);
      expectAccessible('unlock-idle', await app.record('11-unlock-idle'));
    } finally {
      await app.close();
    }
  });

  // The interfaces are the harness's to set in browser mode; under Electron they are the machine's.
  it.skipIf(electronMode())('warns when a network interface is up, and clears the warning when it goes down', async () => {
    const app = await App.launch(browser, {
      vaultPath: vaultIn(tmpDir('keyhold-e2e-')),
      interfaces: [
        { name: 'lo', family: 'IPv4', internal: true, address: '127.0.0.1' },
        { name: 'wlan0', family: 'IPv4', internal: false, address: '192.168.1.23' },
      ],
    });
    try {
      const banner = app.page.getByTestId('airgap-banner');
      await banner.waitFor();
      expect(await banner.textContent()).toContain('wlan0');
      expect(await banner.getAttribute('role')).toBe('alert');
      expectAccessible('airgap-warning', await app.record('12-airgap-warning'));
      app.setInterfaces([{ name: 'lo', family: 'IPv4', internal: true, address: '127.0.0.1' }]);
      await banner.waitFor({ state: 'detached' });
      // The checker itself: an unlabelled field added to the page is reported as a violation.
      await app.page.evaluate(() => {
        const d = (globalThis as unknown as PageGlobal).document;
        d.body.append(d.createElement('input'));
      });
      expect((await app.axe()).map((v) => v.id)).toContain('label');
    } finally {
      await app.close();
    }
  });
});
