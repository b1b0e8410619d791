/**
 * Backup and restore in the app, end to end: the built renderer in Chromium
 * over the real core (app.ts), with main's file dialogs answered by the test
 * as a user would.
 *
 * - Settings, "Back up now": the save dialog, then the file, its size and its
 *   SHA-256 as written; a cancelled dialog writes nothing.
 * - The unlock screen's "Restore from a backup": the backup chosen in the open
 *   dialog, the new vault's place in the save dialog, the passphrase; the
 *   restored vault opens with the original's keys, its log verifies and ends
 *   with the restore; a wrong passphrase and an altered backup are refused
 *   with nothing written.
 * - The first screen (no vault yet) restores into this workstation's vault file.
 * Screenshots light/dark at 1280/760 with axe.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyholdService } from '../../electron/core/service.js';
import { FAST_KDF, makeTmpDir, type TmpDir } from '../helpers/tmp.js';
import { App, electronMode, expectAccessible, launchBrowser } from './app.js';

const PASS = 'correct horse battery staple';
const KEYS = 3;

let browser: Browser | null = null;
let tmp: TmpDir;

beforeAll(async () => {
  tmp = makeTmpDir('keyhold-e2e-backup-');
  if (!electronMode()) browser = await launchBrowser();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  tmp?.remove();
});

async function makeVault(file: string): Promise<void> {
  const svc = new KeyholdService();
  try {
    await svc.call('vault.create', { path: file, passphrase: PASS, kdf: FAST_KDF });
    for (let i = 0; i < KEYS; i++) await svc.call('key.create', { name: `key-${i}`, service: 'payments' });
  } finally {
    svc.close();
  }
}

/** The restored vault as the core sees it: its keys, whether its log verifies, its last entry. */
async function inspect(file: string): Promise<{ keys: number; ok: boolean; last: string }> {
  const svc = new KeyholdService();
  try {
    await svc.call('vault.unlock', { path: file, passphrase: PASS });
    const v = await svc.call('audit.verify', {});
    const restore = (await svc.call('audit.list', { action: 'vault.restore' })).entries;
    return { keys: (await svc.call('key.list', {})).length, ok: v.ok, last: restore.at(-1)?.action ?? '' };
  } finally {
    svc.close();
  }
}

describe('backup and restore in the app', () => {
  it('backs up from Settings, and restores from the unlock screen to a new file', async () => {
    const vaultPath = path.join(tmp.dir, 'vault.db');
    await makeVault(vaultPath);
    const restored = path.join(tmp.dir, 'restored.db');
    const app = await App.launch(browser, { vaultPath });
    const page = app.page;
    try {
      await app.waitForScreen('unlock');
      await app.unlock(PASS);
      await app.waitForScreen('keys');
      await page.getByTestId('nav-settings').click();
      await page.waitForSelector('main[data-screen="settings"]');

      // Cancelled: nothing written.
      await app.answerDialog(null);
      await page.getByTestId('backup-now').click();
      await page.locator('[data-testid="backup-now"]:not([disabled])').waitFor();
      expect(await page.getByTestId('backup-result').count()).toBe(0);

      const media = path.join(tmp.dir, 'media');
      fs.mkdirSync(media);
      const backup = path.join(media, 'vault.khbackup');
      await app.answerDialog(backup);
      await page.getByTestId('backup-now').click();
      const result = page.getByTestId('backup-result');
      await result.waitFor();
      expect(app.dialogs.requests.at(-1)).toMatchObject({ purpose: 'backup' });
      expect(app.dialogs.requests.at(-1)?.defaultName).toMatch(/^keyhold-backup-\d{4}-\d{2}-\d{2}\.khbackup$/);
      const bytes = fs.readFileSync(backup);
      expect(await page.getByTestId('backup-path').textContent()).toBe(backup);
      expect(await page.getByTestId('backup-bytes').getAttribute('data-bytes')).toBe(String(bytes.length));
      expect(await result.getAttribute('data-sha256')).toBe(createHash('sha256').update(bytes).digest('hex'));
      expectAccessible('settings-backup', await app.recordMatrix('backup-settings'));

      await app.lock();
      // The unlock screen: the vault file is there, so the restore goes to a new file.
      await page.getByTestId('restore-open').click();
      await page.getByTestId('restore-panel').waitFor();
      const altered = path.join(media, 'altered.khbackup');
      const flipped = Buffer.from(bytes);
      flipped[flipped.length - 40] = (flipped[flipped.length - 40] as number) ^ 1;
      fs.writeFileSync(altered, flipped);
      await app.answerDialog(altered);
      await page.getByTestId('restore-choose-file').click();
      await page.getByTestId('restore-file').waitFor();
      expect(app.dialogs.requests.at(-1)).toMatchObject({ purpose: 'backup' });
      await app.answerDialog(restored);
      await page.getByTestId('restore-choose-dest').click();
      expect(await page.getByTestId('restore-dest').textContent()).toBe(restored);
      expect(app.dialogs.requests.at(-1)).toMatchObject({ purpose: 'vault' });
      await page.getByTestId('restore-passphrase').fill(PASS);
      await page.getByTestId('restore-submit').click();
      await page.getByTestId('restore-error').waitFor();
      expect(await page.getByTestId('restore-error').textContent()).toMatch(/altered or is damaged/);
      expect(fs.existsSync(restored)).toBe(false);
      expectAccessible('unlock-restore', await app.recordMatrix('backup-restore-panel'));

      // The handles were not spent by the refusal; the intact backup, and first a wrong passphrase.
      await app.answerDialog(backup);
      await page.getByTestId('restore-choose-file').click();
      await page.locator('[data-testid="restore-file"]', { hasText: 'vault.khbackup' }).waitFor();
      await page.getByTestId('restore-passphrase').fill('not the passphrase');
      await page.getByTestId('restore-submit').click();
      await page.locator('[data-testid="restore-error"]', { hasText: /passphrase/i }).waitFor();
      expect(fs.existsSync(restored)).toBe(false);
      await page.getByTestId('restore-passphrase').fill(PASS);
      await page.getByTestId('restore-submit').click();
      await app.waitForScreen('keys');
      await app.waitForKeyCount(KEYS);
      await app.waitForAnnouncement(/restored from vault\.khbackup/);
      await app.lock();
    } finally {
      await app.close();
    }
    expect(await inspect(restored)).toEqual({ keys: KEYS, ok: true, last: 'vault.restore' });
    // The workstation's own vault is untouched by the restore.
    expect((await inspect(vaultPath)).last).toBe('');
  }, 180_000);

  it('restores into this workstation\'s vault file from the first screen', async () => {
    const source = path.join(tmp.dir, 'source.db');
    await makeVault(source);
    const svc = new KeyholdService();
    const backup = path.join(tmp.dir, 'first.khbackup');
    try {
      await svc.call('vault.unlock', { path: source, passphrase: PASS });
      await svc.call('vault.backup', { out: backup });
    } finally {
      svc.close();
    }
    const vaultPath = path.join(tmp.dir, 'fresh', 'vault.db');
    fs.mkdirSync(path.dirname(vaultPath));
    const app = await App.launch(browser, { vaultPath });
    const page = app.page;
    try {
      await app.waitForScreen('create-vault');
      await page.getByTestId('restore-open').click();
      expect(await page.getByTestId('restore-dest').textContent()).toContain(vaultPath);
      expect(await page.getByTestId('restore-choose-dest').count()).toBe(0);
      await app.answerDialog(backup);
      await page.getByTestId('restore-choose-file').click();
      await page.getByTestId('restore-file').waitFor();
      expectAccessible('create-restore', await app.recordMatrix('backup-first-screen'));
      await page.getByTestId('restore-passphrase').fill(PASS);
      await page.getByTestId('restore-submit').click();
      await app.waitForScreen('keys');
      await app.waitForKeyCount(KEYS);
      await app.lock();
    } finally {
      await app.close();
    }
    expect(await inspect(vaultPath)).toEqual({ keys: KEYS, ok: true, last: 'vault.restore' });
  }, 180_000);
});
