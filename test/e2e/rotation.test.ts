/**
 * The Rotation screen end to end: the built renderer in Chromium over the
 * real core (app.ts). Keys are made due by creating them through the core on
 * a test clock set in the past (KeyholdService's `clock`); the app then runs
 * on the real clock, so they are as old as their creation times say.
 *
 * - small vault: the groups and their counts, a rotation of one selected key
 *   with its dry run, then "Rotate all due" to the end; the vault and the
 *   refreshed lists agree; screenshots light/dark at 1280/760 with axe.
 * - 3,000 overdue keys: a rotation cancelled mid-way stops after the batch in
 *   flight, and the count the screen reports is the count of keys the vault
 *   rotated; the rest then rotate to the end with the progress bar moving.
 */
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KeyCreateSpec } from '../../shared/contract.js';
import { createKeys } from '../../electron/core/keys/keys.js';
import { KeyholdService } from '../../electron/core/service.js';
import { DAY_MS, testClock } from '../helpers/clock.js';
import { FAST_KDF, makeTmpDir, type TmpDir } from '../helpers/tmp.js';
import { App, electronMode, launchBrowser, expectAccessible } from './app.js';

const PASS = 'correct horse battery staple';
const BIG = 3000;

let browser: Browser | null = null;
let tmp: TmpDir;

beforeAll(async () => {
  tmp = makeTmpDir('keyhold-e2e-rotation-');
  if (!electronMode()) browser = await launchBrowser();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  tmp?.remove();
});

/**
 * 5 keys created 100 days ago (overdue under the default 90-day policy), 3
 * created 80 days ago (due within the 14-day warning), 4 created 20 days ago
 * (fine) and one revoked (inactive).
 */
async function smallVault(file: string): Promise<{ search0: string }> {
  const now = Date.now();
  const clock = testClock(now - 100 * DAY_MS);
  const svc = new KeyholdService({ clock: clock.now, actor: 'alice' });
  try {
    await svc.call('vault.create', { path: file, passphrase: PASS, kdf: FAST_KDF });
    for (let i = 0; i < 5; i++) await svc.call('key.create', { name: `checkout-${i}`, service: 'payments', environment: 'production' });
    clock.set(now - 80 * DAY_MS);
    for (let i = 0; i < 3; i++) await svc.call('key.create', { name: `relay-${i}`, service: 'mail', environment: 'staging' });
    clock.set(now - 20 * DAY_MS);
    const search0 = (await svc.call('key.create', { name: 'search-0', service: 'search', environment: 'production' })).id;
    for (let i = 1; i < 4; i++) await svc.call('key.create', { name: `search-${i}`, service: 'search', environment: 'production' });
    const old = await svc.call('key.create', { name: 'legacy', service: 'search', environment: 'production' });
    await svc.call('key.revoke', { id: old.id, reason: 'retired' });
    return { search0 };
  } finally {
    svc.close();
  }
}

async function openRotation(app: App): Promise<void> {
  await app.page.getByTestId('nav-rotation').click();
  await app.page.waitForSelector('main[data-screen="rotation"]');
  await app.page.getByTestId('count-overdue').waitFor();
}

async function count(app: App, group: string): Promise<number> {
  return Number(await app.page.getByTestId(`count-${group}`).getAttribute('data-count'));
}

/** Records, in the page, every value the progress bar takes while the run is in progress. */
async function watchProgress(app: App): Promise<void> {
  await app.page.evaluate(() => {
    const w = globalThis as unknown as {
      __seen: Array<{ now: number; max: number; phase: string }>;
      document: { querySelector: (s: string) => { getAttribute: (n: string) => string | null } | null; body: unknown };
      MutationObserver: new (cb: () => void) => { observe: (n: unknown, o: unknown) => void };
    };
    w.__seen = [];
    const record = (): void => {
      const bar = w.document.querySelector('[data-testid="rotation-progress"]');
      const run = w.document.querySelector('[data-testid="rotation-run"]');
      if (!bar || !run) return;
      w.__seen.push({
        now: Number(bar.getAttribute('aria-valuenow')),
        max: Number(bar.getAttribute('aria-valuemax')),
        phase: run.getAttribute('data-phase') ?? '',
      });
    };
    new w.MutationObserver(record).observe(w.document.body, { subtree: true, childList: true, attributes: true });
  });
}

async function seenProgress(app: App): Promise<Array<{ now: number; max: number; phase: string }>> {
  return app.page.evaluate(() => (globalThis as unknown as { __seen: Array<{ now: number; max: number; phase: string }> }).__seen);
}

describe('rotation screen', () => {
  it('groups keys by due state; rotates one selected key (with a dry run) and then all due ones', async () => {
    const vaultPath = path.join(tmp.dir, 'small.db');
    const { search0 } = await smallVault(vaultPath);
    const calls: string[] = [];
    const app = await App.launch(browser, { vaultPath, onCall: (c) => calls.push(c) });
    const page = app.page;
    try {
      await app.waitForScreen('unlock');
      await app.unlock(PASS);
      await app.waitForScreen('keys');
      await openRotation(app);
      expect([await count(app, 'overdue'), await count(app, 'due-soon'), await count(app, 'ok'), await count(app, 'inactive')])
        .toEqual([5, 3, 4, 1]);
      // Names read service/environment/name; an inactive key cannot be ticked.
      await expect.poll(() => page.getByTestId('group-overdue').locator('.key-path').allTextContents())
        .toEqual(expect.arrayContaining(['payments/production/checkout-0']));
      expect(await page.getByTestId('group-inactive').getByTestId('select-key').count()).toBe(0);
      expect(await page.getByTestId('rotate-due').textContent()).toContain('(8)');
      expect(await page.getByTestId('rotate-selected').isDisabled()).toBe(true);
      expectAccessible('rotation', await app.recordMatrix('rotation'));

      // Select all in a group, then untick it again.
      await page.getByTestId('select-group-overdue').check();
      expect(await page.getByTestId('rotate-selected').textContent()).toContain('(5)');
      await page.getByTestId('select-group-overdue').uncheck();

      // One key, selected by its checkbox: the confirmation names the count; a dry run changes nothing.
      await page.getByRole('checkbox', { name: 'Select search/production/search-0' }).check();
      await page.getByTestId('rotate-selected').click();
      const dialog = page.getByTestId('confirm-rotation');
      await dialog.waitFor();
      expect(await dialog.getByRole('heading').textContent()).toBe('Rotate 1 key?');
      await page.getByTestId('dry-run').click();
      await page.getByTestId('rotation-preview').waitFor();
      expect(await page.getByTestId('rotation-preview').textContent()).toMatch(/1 key would rotate.*search\/production\/search-0: version 1 → 2/s);
      expect((await app.router!.service.call('key.show', { id: search0 })).currentVersion).toBe(1);
      expectAccessible('rotation-confirm', await app.record('rotation-confirm'));
      await page.getByTestId('confirm-rotate').click();
      await page.locator('[data-testid="rotation-run"][data-phase="done"]').waitFor();
      expect(await page.getByTestId('rotation-result').getAttribute('data-committed')).toBe('1');
      expect((await app.router!.service.call('key.show', { id: search0 })).currentVersion).toBe(2);
      await page.getByTestId('close-result').click();

      // Rotate all due: 8 keys, the bar fed by progress events.
      await watchProgress(app);
      const eventsBefore = app.events.length;
      const callsBefore = calls.length;
      await page.getByTestId('rotate-due').click();
      expect(await dialog.getByRole('heading').textContent()).toBe('Rotate 8 keys?');
      await page.getByTestId('confirm-rotate').click();
      await page.locator('[data-testid="rotation-run"][data-phase="done"]').waitFor();
      const bar = page.getByRole('progressbar', { name: 'Keys rotated' });
      expect(await bar.getAttribute('aria-valuenow')).toBe('8');
      expect(await bar.getAttribute('aria-valuemax')).toBe('8');
      expect(await page.getByTestId('rotation-result').textContent()).toMatch(/^8 of 8 rotated\./);
      const progress = app.events.slice(eventsBefore).filter((e) => e.name === 'progress');
      expect(progress.length).toBeGreaterThan(0);
      expect(progress.at(-1)?.payload).toMatchObject({ command: 'key.rotate', done: 8, total: 8 });
      expect((await seenProgress(app)).some((s) => s.max === 8)).toBe(true);

      // The due list and the keys list were read again; the vault agrees with the screen.
      await expect.poll(() => count(app, 'overdue')).toBe(0);
      expect(await count(app, 'due-soon')).toBe(0);
      expect(await count(app, 'ok')).toBe(12);
      expect(await page.getByTestId('nothing-due').isVisible()).toBe(true);
      await expect.poll(() => calls.slice(callsBefore)).toEqual(expect.arrayContaining(['key.rotate', 'key.due']));
      // The keys list reloads too (by key.list or the keys store's faster table).
      expect(calls.slice(calls.lastIndexOf('key.rotate')).some((c) => c === 'key.list' || c === 'key.table')).toBe(true);
      const due = await app.router!.service.call('key.due', {});
      expect(due).toEqual([]);
      const versions = (await app.router!.service.call('key.list', {})).map((k) => `${k.name}:${k.currentVersion}`).sort();
      expect(versions.filter((v) => v.endsWith(':2'))).toHaveLength(9);

      expectAccessible('rotation-done', await app.record('rotation-done'));
    } finally {
      await app.close();
    }
  }, 120_000);

  it(`cancels a rotation of ${BIG.toLocaleString('en-US')} keys after the batch in flight; the count shown is what the vault committed`, async () => {
    const vaultPath = path.join(tmp.dir, 'big.db');
    const clock = testClock(Date.now() - 100 * DAY_MS);
    const svc = new KeyholdService({ clock: clock.now });
    await svc.call('vault.create', { path: vaultPath, passphrase: PASS, kdf: FAST_KDF });
    const specs: KeyCreateSpec[] = Array.from({ length: BIG }, (_, i) => ({
      name: `key-${i}`, service: ['payments', 'mail', 'search'][i % 3]!, environment: 'production', scopes: [], owner: '', notes: '',
    }));
    createKeys(svc.vault, specs);
    svc.close();

    const app = await App.launch(browser, { vaultPath });
    const page = app.page;
    try {
      await app.waitForScreen('unlock');
      await app.unlock(PASS);
      await app.waitForScreen('keys');
      await openRotation(app);
      expect(await count(app, 'overdue')).toBe(BIG);
      // A long group is drawn a page at a time.
      expect(await page.getByTestId('group-overdue').getByTestId('due-row').count()).toBeLessThanOrEqual(50);

      await page.getByTestId('rotate-due').click();
      expect(await page.getByTestId('confirm-rotation').getByRole('heading').textContent()).toBe(`Rotate ${BIG.toLocaleString('en-US')} keys?`);
      // Confirm, then press Cancel as soon as it shows, from inside the page (as a quick hand would, without a round trip).
      await page.evaluate(async () => {
        const w = globalThis as unknown as {
          document: { querySelector: (s: string) => { click: () => void } | null };
          requestAnimationFrame: (f: () => void) => void;
        };
        w.document.querySelector('[data-testid="confirm-rotate"]')!.click();
        for (let i = 0; i < 600; i++) {
          const cancel = w.document.querySelector('[data-testid="cancel-rotation"]');
          if (cancel) {
            cancel.click();
            return;
          }
          await new Promise<void>((r) => w.requestAnimationFrame(() => r()));
        }
        throw new Error('no Cancel button appeared');
      });
      await page.locator('[data-testid="rotation-run"][data-phase="cancelled"]').waitFor({ timeout: 60_000 });
      const committed = Number(await page.getByTestId('rotation-result').getAttribute('data-committed'));
      expect(committed).toBeGreaterThan(0);
      expect(committed).toBeLessThan(BIG);
      expect(committed % 500).toBe(0);
      expect(await page.getByTestId('rotation-result').textContent())
        .toContain(`${committed.toLocaleString('en-US')} of ${BIG.toLocaleString('en-US')} rotated; the rest were not touched.`);
      const rotatedInVault = (await app.router!.service.call('key.list', {})).filter((k) => k.currentVersion === 2).length;
      expect(rotatedInVault).toBe(committed);
      await expect.poll(() => count(app, 'overdue')).toBe(BIG - committed);
      await app.screenshot('rotation-cancelled-light-1280');

      // The rest, to the end: the bar moves while the run is in progress.
      await watchProgress(app);
      await page.getByTestId('rotate-due').click();
      await page.getByTestId('confirm-rotate').click();
      await page.locator('[data-testid="rotation-run"][data-phase="done"]').waitFor({ timeout: 60_000 });
      const rest = BIG - committed;
      expect(Number(await page.getByTestId('rotation-result').getAttribute('data-committed'))).toBe(rest);
      const seen = await seenProgress(app);
      const moving = seen.filter((s) => s.phase === 'running' && s.max === rest && s.now > 0 && s.now < rest);
      expect(moving.length, JSON.stringify(seen.slice(0, 20))).toBeGreaterThan(0);
      await expect.poll(() => count(app, 'overdue')).toBe(0);
      expect((await app.router!.service.call('key.due', {})).length).toBe(0);
    } finally {
      await app.close();
    }
  }, 180_000);
});
