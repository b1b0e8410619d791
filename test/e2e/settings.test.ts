/**
 * The Settings screen end to end: the built renderer in Chromium over the
 * real core (app.ts). The vault's custody settings changed and saved (and
 * seen in the vault and its audit log), a bad value refused in the form, a
 * service policy and the global one set and removed with their sources shown,
 * the theme switched to dark and kept across a reload, the air-gap status
 * following the interfaces, and strict air gap refusing to unlock (and
 * locking) while an interface is up. Screenshots light/dark at 1280/760 with
 * axe-core (recordMatrix('settings')).
 */
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyholdService } from '../../electron/core/service.js';
import type { NetworkInterfaceAddress } from '../../electron/main/router.js';
import { FAST_KDF, makeTmpDir, type TmpDir } from '../helpers/tmp.js';
import { App, electronMode, launchBrowser, LOOPBACK_ONLY, expectAccessible } from './app.js';

const PASS = 'correct horse battery staple';
const UP: readonly NetworkInterfaceAddress[] = [...LOOPBACK_ONLY, { name: 'eth0', family: 'IPv4', internal: false, address: '192.0.2.10' }];
const DAY = 86_400;

let browser: Browser | null = null;
let tmp: TmpDir;

beforeAll(async () => {
  tmp = makeTmpDir('keyhold-e2e-settings-');
  if (!electronMode()) browser = await launchBrowser();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  tmp?.remove();
});

async function prepareVault(file: string): Promise<void> {
  const svc = new KeyholdService({ actor: 'alice' });
  try {
    await svc.call('vault.create', { path: file, passphrase: PASS, kdf: FAST_KDF });
    await svc.call('key.create', { name: 'checkout', service: 'payments' });
    await svc.call('key.create', { name: 'relay', service: 'mail', environment: 'staging' });
  } finally {
    svc.close();
  }
}

async function openSettings(app: App): Promise<void> {
  await app.page.getByTestId('nav-settings').click();
  await app.page.waitForSelector('main[data-screen="settings"]');
  await app.page.getByTestId('custody-settings').waitFor();
  await app.page.getByTestId('policy-row-payments').waitFor();
}

async function cell(app: App, id: string): Promise<string> {
  return ((await app.page.getByTestId(id).textContent()) ?? '').replace(/\s+/g, ' ').trim();
}

describe.skipIf(electronMode())('Settings screen', () => {
  it('saves custody settings, sets policies, switches the theme and enforces strict air gap', async () => {
    const vaultPath = path.join(tmp.dir, 'settings.db');
    await prepareVault(vaultPath);
    const app = await App.launch(browser, { vaultPath });
    const router = app.router;
    if (!router) throw new Error('browser mode has the router');
    try {
      const page = app.page;
      await app.unlock(PASS);
      await app.waitForScreen('keys');
      await openSettings(app);

      // The screen as it opens: every value from the workstation, policies from the defaults.
      expect(await page.getByTestId('settings-auto-lock').inputValue()).toBe('');
      expect(await page.getByTestId('in-force-auto-lock').getAttribute('data-value')).toBe('5');
      expect(await cell(app, 'payments-rotation')).toBe('90d default');
      await page.getByTestId('airgap-isolated').waitFor();
      expectAccessible('settings', await app.recordMatrix('settings'));

      // A value out of range is refused in the form, nothing is sent.
      await page.getByTestId('settings-auto-lock').fill('2000');
      await page.getByTestId('settings-save').click();
      await page.locator('#set-auto-lock-error', { hasText: 'At most 1440 minutes' }).waitFor();
      expect(await page.getByTestId('settings-auto-lock').getAttribute('aria-invalid')).toBe('true');
      expect(await router.service.call('settings.show', {})).toEqual({ autoLockMinutes: null, clipboardClearSeconds: null, airgapStrict: null });

      // Auto-lock and clipboard time saved in the vault, applied, audited with old and new values.
      await page.getByTestId('settings-auto-lock').fill('9');
      await page.getByTestId('settings-clipboard').fill('15');
      await page.getByTestId('settings-save').click();
      await page.getByTestId('settings-saved').filter({ hasText: 'Settings saved' }).waitFor();
      await page.locator('[data-testid="in-force-auto-lock"][data-value="9"]').waitFor();
      expect(await page.getByTestId('in-force-clipboard').getAttribute('data-value')).toBe('15');
      expect(await router.service.call('settings.show', {})).toEqual({ autoLockMinutes: 9, clipboardClearSeconds: 15, airgapStrict: null });
      const audited = await router.service.call('audit.list', { action: 'settings.set' });
      expect(audited.entries.map((e) => e.details)).toEqual([
        { autoLockMinutes: { from: null, to: 9 }, clipboardClearSeconds: { from: null, to: 15 } },
      ]);
      const env = await router.handle('app.environment', { url: 'http://keyhold.localhost/index.html', isMainFrame: true }, {});
      expect(env.ok && (env.value as { settings: unknown }).settings).toEqual({ autoLockMinutes: 9, clipboardClearSeconds: 15, airgapStrict: false });

      // A service policy: values shown with their source, in the vault too.
      await page.getByTestId('policy-edit-payments').click();
      await page.locator('[data-testid="policy-editor"][data-scope="service:payments"] [data-testid="policy-rotation"]').waitFor();
      await page.getByTestId('policy-rotation').fill('30d');
      await page.getByTestId('policy-grace').fill('2d');
      await page.getByTestId('policy-save').click();
      await page.getByTestId('policy-saved').filter({ hasText: 'payments service policy is saved' }).waitFor();
      expect(await cell(app, 'payments-rotation')).toBe('30d service');
      expect(await cell(app, 'payments-grace')).toBe('2d service');
      expect(await cell(app, 'payments-warn')).toBe('2w default');
      expect(await cell(app, 'mail-rotation')).toBe('90d default');
      const stored = await router.service.call('policy.show', { scope: { service: 'payments' } });
      expect([stored.rotation, stored.grace, stored.sources.rotation]).toEqual([30 * DAY, 2 * DAY, 'service:payments']);
      await app.screenshot('settings-policy-service');

      // A bad duration is refused in the form.
      await page.getByTestId('policy-warn').fill('10x');
      await page.getByTestId('policy-save').click();
      await page.locator('#policy-warn-error', { hasText: 'whole number and a unit' }).waitFor();

      // The global policy: every service without its own value follows it.
      await page.getByTestId('policy-edit-global').click();
      await page.locator('[data-testid="policy-editor"][data-scope="global"] [data-testid="policy-warn"]').waitFor();
      await page.getByTestId('policy-warn').fill('10d');
      await page.getByTestId('policy-save').click();
      await page.getByTestId('policy-saved').filter({ hasText: 'global policy is saved' }).waitFor();
      expect(await cell(app, 'global-warn')).toBe('10d global');
      await page.getByTestId('mail-warn').filter({ hasText: '10d global' }).waitFor();

      // Removing the service's policy: its values fall back.
      await page.getByTestId('policy-edit-payments').click();
      await page.locator('[data-testid="policy-editor"][data-scope="service:payments"]').waitFor();
      await page.getByTestId('policy-clear').click();
      await page.getByTestId('policy-saved').filter({ hasText: 'payments service policy is removed' }).waitFor();
      expect(await cell(app, 'payments-rotation')).toBe('90d default');
      expect(await cell(app, 'payments-warn')).toBe('10d global');
      expect((await router.service.call('audit.list', { action: 'policy.clear' })).entries).toHaveLength(1);

      // Theme: dark applied to <html> at once, kept across a reload; system removes it.
      await page.getByTestId('theme-dark').check();
      expect(await page.locator('html').getAttribute('data-theme')).toBe('dark');
      await app.screenshot('settings-theme-dark');
      await page.reload();
      await page.waitForSelector('main[data-screen]:not([data-screen="loading"])');
      expect(await page.locator('html').getAttribute('data-theme')).toBe('dark');
      await openSettings(app);
      expect(await page.getByTestId('theme-dark').isChecked()).toBe(true);
      await page.getByTestId('theme-system').check();
      expect(await page.locator('html').getAttribute('data-theme')).toBe(null);

      // The air-gap status follows the interfaces; strict cannot be turned on while connected.
      app.setInterfaces(UP);
      await page.getByTestId('airgap-connected').waitFor();
      await page.getByTestId('airgap-status').locator('td', { hasText: 'eth0' }).waitFor();
      await page.getByTestId('settings-airgap-strict').check();
      await page.getByTestId('settings-save').click();
      await page.locator('[data-testid="custody-settings"] [data-testid="error"][data-code="AIRGAP_REQUIRED"]').waitFor();
      await app.screenshot('settings-airgap-refused');
      expect((await router.service.call('settings.show', {})).airgapStrict).toBe(null);

      app.setInterfaces(LOOPBACK_ONLY);
      await page.getByTestId('airgap-isolated').waitFor();
      await page.getByTestId('settings-save').click();
      await page.getByTestId('settings-saved').filter({ hasText: 'Settings saved' }).waitFor();
      expect(await cell(app, 'in-force-airgap')).toBe('strict');

      // Strict: an interface coming up locks the vault; unlocking is refused until it is down.
      app.setInterfaces(UP);
      await app.waitForScreen('unlock');
      expect(app.events.some((e) => e.name === 'vault.locked' && e.payload.reason === 'airgap')).toBe(true);
      expect(await page.getByTestId('airgap-lock-notice').textContent()).toMatch(/network interface came up/);
      await app.unlock(PASS);
      await page.locator('[data-testid="error"][data-code="AIRGAP_REQUIRED"]').waitFor();
      expect(await screenNameAfter(app)).toBe('unlock');
      await app.screenshot('settings-airgap-unlock-refused');
      expect((await router.service.call('vault.status', {})).unlocked).toBe(false);

      app.setInterfaces(LOOPBACK_ONLY);
      await app.unlock(PASS);
      await app.waitForScreen('keys');
    } finally {
      await app.close();
    }
  }, 180_000);
});

async function screenNameAfter(app: App): Promise<string | null> {
  return app.screenName();
}
