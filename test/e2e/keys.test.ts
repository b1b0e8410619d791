/**
 * The keys area end to end (the built renderer in Chromium over the real core,
 * see app.ts): the due column and filter with keys made overdue and due soon by
 * the service's clock, sorting by header (mouse and keyboard, aria-sort), clear
 * filters; the detail's rotate, revoke (reason and a confirmation naming the
 * key), destroy of a revoked version, reveal of an older version (blocks of
 * four, hiding itself), copy with its countdown. Screens are recorded in light
 * and dark at 1280 and 760 px with axe-core: no serious or critical violation.
 */
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isValidApiKey } from '../../shared/apikey.js';
import { tmpDir } from '../helpers/tmp.js';
import { App, electronMode, launchBrowser, expectAccessible } from './app.js';

const PASS = 'correct horse battery staple';
const DAY = 86_400_000;

let browser: Browser | null = null;

beforeAll(async () => {
  if (!electronMode()) browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
});

// The core's clock is the harness's to move (browser mode only: under Electron, main owns the service).
describe.skipIf(electronMode())('keys area', () => {
  it('shows due status, sorts, filters by due, and rotates, revokes, destroys, reveals and copies', async () => {
    // The vault and its first keys are made 100 days ago, one key 85 days ago (due within the 14-day warning), one 20 days ago.
    let offset = -100 * DAY;
    const clock = (): Date => new Date(Date.now() + offset);
    const app = await App.launch(browser, {
      vaultPath: path.join(tmpDir('keyhold-e2e-keys-'), 'vault.db'),
      settings: { clipboardClearSeconds: 20 },
      router: { service: { clock } },
    });
    const page = app.page;
    try {
      await app.createVault(PASS);
      await app.waitForScreen('keys');
      const svc = app.router!.service;
      const make = (name: string, service: string, environment: string, owner = ''): Promise<unknown> =>
        svc.call('key.create', { name, service, environment, scopes: ['read'], owner, notes: name === 'checkout' ? 'Shop front; rotate with the payments team' : '' });
      await make('checkout', 'payments', 'production', 'alice');
      await make('legacy', 'auth', 'production');
      offset = -85 * DAY;
      await make('ledger', 'accounting', 'staging', 'bob');
      offset = -20 * DAY;
      await make('webhooks', 'payments', 'staging');
      offset = 0;
      // Lock and unlock: the list is read again, with the due status as of now.
      await app.lock();
      await app.unlock(PASS);
      await app.waitForScreen('keys');
      await app.waitForKeyCount(4);

      const dueOf = async (name: string): Promise<string | null> =>
        page.getByRole('option').filter({ hasText: name }).locator('[data-due]').getAttribute('data-due');
      expect(await dueOf('checkout')).toBe('overdue');
      expect(await dueOf('legacy')).toBe('overdue');
      expect(await dueOf('ledger')).toBe('due-soon');
      expect(await dueOf('webhooks')).toBe('ok');
      expect(await page.getByRole('option').filter({ hasText: 'ledger' }).textContent()).toContain('due soon');
      expect(await page.getByRole('option').filter({ hasText: 'webhooks' }).textContent()).toContain('fine');

      // Sorting: by name with the mouse, then the other way; by due with the keyboard.
      const header = (c: string) => page.locator('[role="columnheader"]').filter({ has: page.getByTestId(`sort-${c}`) });
      await page.getByTestId('sort-name').click();
      expect(await app.visibleKeyNames()).toEqual(['checkout', 'ledger', 'legacy', 'webhooks']);
      expect(await header('name').getAttribute('aria-sort')).toBe('ascending');
      expect(await header('service').getAttribute('aria-sort')).toBe('none');
      await page.getByTestId('sort-name').click();
      expect(await app.visibleKeyNames()).toEqual(['webhooks', 'legacy', 'ledger', 'checkout']);
      expect(await header('name').getAttribute('aria-sort')).toBe('descending');
      await page.getByTestId('sort-due').focus();
      await page.keyboard.press('Enter');
      expect(await header('due').getAttribute('aria-sort')).toBe('ascending');
      // Most urgent first; within a status, the earliest rotation date (checkout was made just before legacy).
      expect(await app.visibleKeyNames()).toEqual(['checkout', 'legacy', 'ledger', 'webhooks']);

      // Search matches the owner; the due filter; clear filters resets every filter at once.
      await app.search('alice');
      await app.waitForKeyCount(1);
      expect(await app.visibleKeyNames()).toEqual(['checkout']);
      await app.search('');
      await page.getByTestId('filter-due').selectOption('overdue');
      await app.waitForKeyCount(2);
      expect(await app.visibleKeyNames()).toEqual(['checkout', 'legacy']);
      await app.filterBy('service', 'payments');
      await app.waitForKeyCount(1);
      await page.getByTestId('filter-due').selectOption('due-soon');
      await app.waitForKeyCount(0);
      await page.getByTestId('clear-filters').click();
      await app.waitForKeyCount(4);
      expect(await page.getByTestId('filter-due').inputValue()).toBe('');
      expect(await page.getByTestId('filter-service').inputValue()).toBe('');
      expect(await page.getByTestId('clear-filters').isDisabled()).toBe(true);
      expectAccessible('keys-list', await app.recordMatrix('keys-list'));

      // Detail: every field, then rotate through a confirmation.
      await app.openKey('checkout');
      const detail = page.getByTestId('key-detail');
      expect(await page.getByTestId('key-path').textContent()).toBe('payments/production/checkout');
      expect(await page.getByTestId('notes').textContent()).toBe('Shop front; rotate with the payments team');
      expect(await page.getByTestId('due').getAttribute('data-due')).toBe('overdue');
      await page.getByTestId('key-rotate').click();
      const rotateDialog = page.getByTestId('rotate-dialog');
      expect(await rotateDialog.locator('h2').textContent()).toBe('Rotate payments/production/checkout?');
      await page.getByTestId('confirm-key-rotate').click();
      await rotateDialog.waitFor({ state: 'detached' });
      await page.getByTestId('version-2').waitFor();
      expect(await page.getByTestId('version-1').getAttribute('data-state')).toBe('retiring');
      // A retiring version ends when its grace does (7 days by default), not at its not-after.
      expect(await page.getByTestId('ends-1').textContent()).toContain('grace ends');
      expect(await page.getByTestId('due').getAttribute('data-due')).toBe('ok');
      expect(await dueOf('checkout')).toBe('ok');
      expectAccessible('key-detail', await app.recordMatrix('key-detail'));

      // Reveal the older version: blocks of four, a visible countdown, and it hides itself.
      await page.clock.install();
      await page.getByTestId('reveal-version-1').click();
      const secret = page.getByTestId('secret');
      await secret.waitFor();
      expect(await secret.getAttribute('data-version')).toBe('1');
      expect(isValidApiKey((await secret.textContent()) ?? '')).toBe(true);
      const groups = await secret.locator('.secret-group').allTextContents();
      expect(groups.slice(0, -1).every((g) => g.length === 4)).toBe(true);
      expect(await page.getByTestId('revoked-warning').textContent()).toContain('retiring');
      expect(await page.getByTestId('reveal-countdown').textContent()).toMatch(/Hides in (30|29) s/);
      await app.screenshot('keys-revealed-version-1');
      await page.clock.runFor(10_000);
      expect(await page.getByTestId('reveal-countdown').textContent()).toMatch(/Hides in (20|19) s/);
      await page.clock.runFor(21_000);
      await page.getByTestId('secret-masked').waitFor();
      expect(await secret.count()).toBe(0);

      // Copy the current version: main holds the secret; the page shows the countdown to the clipboard's clearing.
      await page.getByTestId('copy-version-2').click();
      const countdown = page.getByTestId('copy-countdown');
      await countdown.waitFor();
      expect(await countdown.textContent()).toMatch(/Version 2 copied\. The clipboard clears in 20 s/);
      await page.clock.runFor(5_000);
      expect(await countdown.textContent()).toMatch(/clears in 15 s/);
      if (app.router) {
        expect(isValidApiKey(app.clipboard.text)).toBe(true);
        expect((await page.content()).includes(app.clipboard.text), 'copied secret in the page').toBe(false);
      }

      // Revoke: the dialog names the key, and wants a reason before it revokes.
      await page.getByTestId('key-revoke').click();
      const revokeDialog = page.getByTestId('revoke-dialog');
      expect(await revokeDialog.locator('h2').textContent()).toBe('Revoke payments/production/checkout?');
      expect(await page.getByTestId('revoke-summary').textContent()).toMatch(/payments\/production\/checkout.*versions 1, 2 will be revoked/);
      expect(await page.getByTestId('confirm-revoke').isDisabled()).toBe(true);
      await page.getByTestId('revoke-reason-compromised').check();
      expect(await page.getByTestId('confirm-revoke').isDisabled()).toBe(false);
      expectAccessible('key-revoke-confirm', await app.recordMatrix('key-revoke-confirm'));
      // Esc cancels: nothing revoked.
      await page.keyboard.press('Escape');
      await revokeDialog.waitFor({ state: 'detached' });
      expect(await page.getByTestId('version-2').getAttribute('data-state')).toBe('active');
      await page.getByTestId('key-revoke').click();
      await page.getByTestId('revoke-reason-compromised').check();
      await page.getByTestId('confirm-revoke').click();
      await revokeDialog.waitFor({ state: 'detached' });
      await detail.locator('[data-testid="version-2"][data-state="revoked"]').waitFor();
      expect(await page.getByTestId('revoked-1').textContent()).toContain('(compromised)');
      expect(await page.getByTestId('revoked-2').textContent()).toContain('(compromised)');
      await page.getByRole('option').filter({ hasText: 'checkout' }).locator('.state-revoked').waitFor();
      expect(await dueOf('checkout')).toBe('inactive');
      // A revoked version can still be revealed, with the warning.
      await page.getByTestId('reveal-version-2').click();
      await page.getByTestId('revoked-warning').filter({ hasText: 'revoked (compromised)' }).waitFor();
      await page.getByTestId('hide').click();

      // Destroy version 1's secret: confirmed; then reveal and copy are disabled, with the reason shown.
      await page.getByTestId('destroy-version-1').click();
      expect(await page.getByTestId('destroy-summary').textContent()).toContain('payments/production/checkout version 1');
      await page.getByTestId('confirm-destroy').click();
      await detail.locator('[data-testid="version-1"][data-state="destroyed"]').waitFor();
      expect(await page.getByTestId('reveal-version-1').isDisabled()).toBe(true);
      expect(await page.getByTestId('copy-version-1').isDisabled()).toBe(true);
      expect(await page.getByTestId('no-secret-1').textContent()).toMatch(/destroyed/);
      expect(await page.getByTestId('destroy-version-1').count()).toBe(0);
      await app.screenshot('keys-after-destroy');
      expectAccessible('key-destroyed', await app.axe());
    } finally {
      await app.close();
    }
  });
});
