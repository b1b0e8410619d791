/**
 * Rollback of the vault file in the app, end to end: the built renderer in
 * Chromium over the real router, core and vault file, with a REAL SoftHSM2
 * token holding the vault's token keyslot and its rollback anchor. A copy of
 * the vault file from before a change is put back; the unlock by token is
 * refused on the unlock screen with both audit heads (RollbackNotice), Cancel
 * goes back, and "Open anyway (disaster recovery)" asks for a reason and a
 * confirmation, then opens the copy with the override, audited. Screenshots
 * and axe-core in light and dark, at 1280 and 760 px.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_PIN, setupSoftHsm, type SoftHsm } from '../helpers/softhsm.js';
import { makeTmpDir, type TmpDir } from '../helpers/tmp.js';
import { App, electronMode, expectAccessible, launchBrowser } from './app.js';
import type { PageGlobal } from './page-types.js';

const PASS = 'correct horse battery staple';

let browser: Browser | null = null;
let hsm: SoftHsm;
let tmp: TmpDir;
let app: App;
let serial = '';
let vaultPath = '';
const calls: string[] = [];
const pageErrors: string[] = [];

beforeAll(async () => {
  if (electronMode()) return;
  hsm = setupSoftHsm([{ label: 'rb-card' }]);
  serial = hsm.serial('rb-card');
  tmp = makeTmpDir('keyhold-e2e-rollback-');
  vaultPath = path.join(tmp.dir, 'vault.db');
  browser = await launchBrowser();
  app = await App.launch(browser, {
    vaultPath,
    router: { service: { tokens: { module: hsm.module } } },
    onCall: (command) => calls.push(command),
  });
  app.page.on('pageerror', (e) => pageErrors.push(e.message));
});

afterAll(async () => {
  await app?.close();
  await browser?.close();
  hsm?.cleanup();
  tmp?.remove();
});

/** Calls a command over the page's IPC bridge, as the renderer would. */
async function ipc(method: string, input: Record<string, unknown>): Promise<Record<string, unknown>> {
  const r = await app.page.evaluate(
    async ([m, i]) => (globalThis as unknown as PageGlobal).keyhold![m]!(i),
    [method, input] as const,
  );
  if (!r.ok) throw new Error(`${method}: ${JSON.stringify(r.error)}`);
  return r.value;
}

async function unlockByToken(): Promise<void> {
  const page = app.page;
  await page.getByTestId('method-token').check();
  await page.getByTestId(`token-option-${serial}`).waitFor();
  await page.getByTestId('unlock-token-pin').fill(DEFAULT_PIN);
  await page.getByTestId('unlock-token-submit').click();
}

describe.skipIf(electronMode())('rollback of the vault file in the app (SoftHSM2)', () => {
  let oldCopy = '';

  it('a copy from before a change is refused at unlock by token, with both heads; Cancel goes back to the unlock screen', async () => {
    const page = app.page;
    await app.waitForScreen('create-vault');
    await app.createVault(PASS);
    await app.waitForScreen('keys');
    // The token keyslot over IPC (its screen is tested in keyslots.test.ts): the token is registered and logged in.
    await ipc('slotAddToken', { token: serial, keyLabel: 'vault-unlock', pin: DEFAULT_PIN });
    await app.lock();
    oldCopy = path.join(tmp.dir, 'old.db');
    fs.copyFileSync(vaultPath, oldCopy);

    // A session opened by the token: its changes move the token's record.
    await unlockByToken();
    await app.waitForScreen('keys');
    await ipc('keyCreate', { name: 'gateway', service: 'payments' });
    const newest = ((await ipc('auditList', {})).entries as { seq: number }[]).at(-1)?.seq ?? 0;
    await app.lock();

    fs.copyFileSync(oldCopy, vaultPath);
    const before = fs.readFileSync(vaultPath);
    await unlockByToken();
    const notice = page.getByTestId('rollback-notice');
    await notice.waitFor();
    expect(await notice.locator('[data-code]').getAttribute('data-code')).toBe('ROLLBACK_DETECTED');
    const message = (await page.getByTestId('rollback-message').textContent()) ?? '';
    expect(message).toMatch(new RegExp(`older copy: its audit log ends at entry \\d+ \\(.+\\), but token 'rb-card' \\(serial ${serial}\\) recorded entry ${newest} \\(`));
    // No CLI option in the app's text.
    expect(await notice.textContent()).not.toContain('--accept-rollback');
    expect(await app.screenName()).toBe('unlock');
    expect(fs.readFileSync(vaultPath).equals(before)).toBe(true);
    expectAccessible('rollback-notice', await app.recordMatrix('rollback-notice'));

    await page.getByTestId('rollback-cancel').click();
    await page.getByTestId('unlock-token-pin').waitFor();
    expect(await page.getByTestId('rollback-notice').count()).toBe(0);
    expect(fs.readFileSync(vaultPath).equals(before)).toBe(true);
  });

  it('"Open anyway (disaster recovery)" asks for a reason and a confirmation, then opens the copy, audited', async () => {
    const page = app.page;
    await unlockByToken();
    await page.getByTestId('rollback-notice').waitFor();
    await page.getByTestId('rollback-override').click();
    await page.getByTestId('rollback-form').waitFor();
    expect(await app.focusedTestId()).toBe('rollback-reason');

    // Neither a reason nor the confirmation: both said, nothing sent.
    const sent = calls.length;
    await page.getByTestId('rollback-open').click();
    expect(await page.locator('.field-error').count()).toBe(2);
    expect(await page.getByTestId('rollback-reason').getAttribute('aria-invalid')).toBe('true');
    expect(calls.length).toBe(sent);

    await page.getByTestId('rollback-reason').fill('the newest copy was lost with its workstation');
    await page.getByTestId('rollback-confirm').check();
    expect(await page.locator('.field-error').count()).toBe(0);
    expectAccessible('rollback-override', await app.recordMatrix('rollback-override'));
    const unlocks = calls.filter((c) => c === 'vault.unlockToken').length;
    await page.getByTestId('rollback-open').click();
    await app.waitForScreen('keys');
    expect(calls.filter((c) => c === 'vault.unlockToken').length).toBe(unlocks + 1);

    const entries = (await ipc('auditList', {})).entries as { action: string; details: Record<string, unknown> }[];
    const accepted = entries.find((e) => e.action === 'vault.rollbackAccepted');
    expect(accepted?.details).toMatchObject({ reason: 'the newest copy was lost with its workstation', problem: 'behind' });
    expect(pageErrors).toEqual([]);
  });
});
