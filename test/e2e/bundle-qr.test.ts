/**
 * A revocations-only bundle shown as QR codes on the Bundles screen, end to
 * end: the built renderer in Chromium over the real router and core, a REAL
 * SoftHSM2 token. The bundle is prepared, confirmed and signed as any other;
 * the signed view offers "Show as QR codes": one code at a time, "part i of
 * n", moving on by itself every 1.5 s, with pause, previous and next. Each
 * code shown is photographed off the page and read by zbarimg: the parts, put
 * together, are the bundle file saved. Recorded light/dark at 1280/760 with axe.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeQrParts, generateRecipientKey } from 'keyhold-format';
import { DEFAULT_PIN, setupSoftHsm, type SoftHsm } from '../helpers/softhsm.js';
import { makeTmpDir, type TmpDir } from '../helpers/tmp.js';
import { App, electronMode, expectAccessible, launchBrowser } from './app.js';

const PASS = 'correct horse battery staple';
const KEYS = 14;

let browser: Browser | null = null;
let hsm: SoftHsm;
let tmp: TmpDir;
let app: App;

beforeAll(async () => {
  if (electronMode()) return;
  hsm = setupSoftHsm([{ label: 'card' }]);
  tmp = makeTmpDir('keyhold-e2e-qr-');
  browser = await launchBrowser();
  app = await App.launch(browser, { vaultPath: path.join(tmp.dir, 'vault.db'), router: { service: { tokens: { module: hsm.module } } } });
}, 60_000);

afterAll(async () => {
  await app?.close();
  await browser?.close();
  hsm?.cleanup();
  tmp?.remove();
});

/** What zbarimg reads off a PNG (zbar's own stderr noise dropped). */
function scan(png: string): string {
  return execFileSync('zbarimg', ['--raw', '-q', png], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
}

describe.skipIf(electronMode())('a revocations-only bundle as QR codes in the app', () => {
  it('signs it, then shows its codes one at a time; read back from the screen, they are the bundle file', async () => {
    const page = app.page;
    await app.waitForScreen('create-vault');
    await app.createVault(PASS);
    await app.waitForScreen('keys');
    // Set-up the other screens own, through the same service: a signer, a server, keys sent once, then all revoked.
    const svc = app.router!.service;
    await svc.call('token.keygen', { token: 'card', label: 'signer1', alg: 'ES256', pin: DEFAULT_PIN });
    await svc.call('signer.add', { token: 'card', keyLabel: 'signer1' });
    const server = await generateRecipientKey('P-256');
    await svc.call('recipient.add', { name: 'gateway', publicKey: server.publicJwk, verifies: ['payments'] });
    const ids: string[] = [];
    for (let i = 0; i < KEYS; i++) ids.push((await svc.call('key.create', { name: `key-${i}`, service: 'payments' })).id);
    await svc.call('bundle.export', { recipient: 'gateway', out: path.join(tmp.dir, 'first.khb'), pin: DEFAULT_PIN });
    for (const id of ids) await svc.call('key.revoke', { id, reason: 'compromised' });

    await page.getByTestId('nav-bundles').click();
    await page.getByTestId('export').waitFor();
    await page.getByTestId('export-recipient').selectOption('gateway');
    await page.getByTestId('export-revocations').check();
    await page.getByTestId('prepare-bundle').click();
    await page.getByTestId('bundle-summary').waitFor();
    expect(await page.getByTestId('summary-revoked').textContent()).toBe(String(KEYS));
    await page.getByTestId('confirm-summary').check();
    const bundlePath = path.join(tmp.dir, 'gateway-2.khb');
    await app.answerDialog(bundlePath);
    await page.getByTestId('sign-pin').fill(DEFAULT_PIN);
    await page.getByTestId('sign-submit').click();
    await page.getByTestId('bundle-signed').waitFor();

    await page.getByTestId('show-qr').click();
    const view = page.getByTestId('qr-view');
    await view.waitFor();
    const n = Number(await view.getAttribute('data-total'));
    expect(n).toBeGreaterThan(1);
    expect(await page.getByTestId('qr-caption').textContent()).toBe(`Part 1 of ${n}`);
    // It moves on by itself...
    await page.locator('[data-testid="qr-view"][data-part="2"]').waitFor({ timeout: 5000 });
    // ...until paused; then next and previous step by hand.
    await page.getByTestId('qr-pause').click();
    expect(await page.getByTestId('qr-pause').getAttribute('aria-pressed')).toBe('true');
    const paused = await view.getAttribute('data-part');
    await page.waitForTimeout(2000);
    expect(await view.getAttribute('data-part')).toBe(paused);
    expectAccessible('bundle-qr', await app.recordMatrix('bundle-qr'));

    // Every code, as drawn on the page, read by a QR decoder: together they are the saved file.
    await page.getByTestId('qr-previous').click();
    while (await view.getAttribute('data-part') !== '1') await page.getByTestId('qr-next').click();
    const texts: string[] = [];
    for (let i = 1; i <= n; i++) {
      await page.locator(`[data-testid="qr-view"][data-part="${i}"]`).waitFor();
      const png = path.join(tmp.dir, `shown-${i}.png`);
      await page.getByTestId('qr-image').screenshot({ path: png });
      const text = scan(png);
      expect(text).toBe(await page.getByTestId('qr-image').getAttribute('data-text'));
      texts.push(text);
      await page.getByTestId('qr-next').click();
    }
    expect(await view.getAttribute('data-part')).toBe('1');
    expect(decodeQrParts(texts.reverse()).equals(fs.readFileSync(bundlePath))).toBe(true);

    await page.getByTestId('qr-close').click();
    expect(await page.getByTestId('qr-view').count()).toBe(0);
    await page.getByTestId('signed-done').click();
  }, 180_000);
});
