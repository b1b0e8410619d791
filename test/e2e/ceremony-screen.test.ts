/**
 * The Ceremony screen end to end: the built renderer in Chromium over the
 * real router and core (app.ts), a REAL SoftHSM2 token holding the vault's
 * registered signer. Start a ceremony with its purpose and the people
 * present; do a step on another screen (a key created in the Keys form),
 * counted by the shell's indicator and listed as a step; end it with the
 * token's PIN in the shared PinPrompt; save the transcript through the save
 * dialog (answered by the test, as the user would) and read the PDF back with
 * pdftotext. Screenshots light/dark at 1280/760 with axe-core.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyholdService } from '../../electron/core/service.js';
import { DEFAULT_PIN, setupSoftHsm, type SoftHsm } from '../helpers/softhsm.js';
import { FAST_KDF, makeTmpDir, type TmpDir } from '../helpers/tmp.js';
import { App, electronMode, expectAccessible, launchBrowser } from './app.js';

const PASS = 'correct horse battery staple';

let browser: Browser | null = null;
let hsm: SoftHsm;
let tmp: TmpDir;
let vaultPath = '';
let serial = '';
let kid = '';

beforeAll(async () => {
  if (electronMode()) return;
  hsm = setupSoftHsm([{ label: 'ceremony-card' }]);
  serial = hsm.serial('ceremony-card');
  tmp = makeTmpDir('keyhold-e2e-ceremony-screen-');
  vaultPath = path.join(tmp.dir, 'vault.db');
  // Setup, not what is tested: a vault with a signer key registered on the token.
  const svc = new KeyholdService({ tokens: { module: hsm.module } });
  try {
    await svc.call('vault.create', { path: vaultPath, passphrase: PASS, kdf: FAST_KDF });
    await svc.call('token.keygen', { token: 'ceremony-card', label: 'checkpoint-signer', alg: 'ES256', pin: DEFAULT_PIN });
    kid = (await svc.call('signer.add', { token: 'ceremony-card', keyLabel: 'checkpoint-signer' })).kid;
  } finally {
    await svc.shutdown();
  }
  browser = await launchBrowser();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  hsm?.cleanup();
  tmp?.remove();
});

describe.skipIf(electronMode())('the Ceremony screen (SoftHSM2)', () => {
  it('start, a step on another screen, end with the token PIN, save the transcript; the PDF lists the step and the verified checkpoint', async () => {
    const app = await App.launch(browser, { vaultPath, router: { service: { tokens: { module: hsm.module } } } });
    try {
      const page = app.page;
      await app.unlock(PASS);
      await app.waitForScreen('keys');
      expect(await page.getByTestId('ceremony-indicator').count()).toBe(0);

      // Start: the form asks for what is missing before any call.
      await page.getByTestId('nav-ceremony').click();
      await page.waitForSelector('main[data-screen="ceremony"]');
      await page.getByTestId('ceremony-none').waitFor();
      await page.getByTestId('ceremony-start-submit').click();
      expect(await page.getByTestId('ceremony-start-missing').textContent()).toBe('Say what the ceremony is for.');
      await page.getByTestId('ceremony-purpose').fill('Issue the new payment keys');
      await page.getByTestId('ceremony-present').fill('Ada Lovelace\n\nGrace Hopper\n');
      expectAccessible('ceremony-start', await app.recordMatrix('ceremony-start'));
      await page.getByTestId('ceremony-start-submit').click();
      const running = page.getByTestId('ceremony-running');
      await running.waitFor();
      const id = Number(await running.getAttribute('data-ceremony'));
      const [started] = await app.router!.service.call('ceremony.list', {});
      expect(started).toMatchObject({ id, open: true, purpose: 'Issue the new payment keys', present: ['Ada Lovelace', 'Grace Hopper'] });
      await page.getByTestId('ceremony-no-steps').waitFor();
      const indicator = page.getByTestId('ceremony-indicator');
      await indicator.waitFor();
      expect(await indicator.textContent()).toContain(`Ceremony ${id} running`);

      // A step on another screen: the indicator counts it, the ceremony lists it.
      await page.getByTestId('nav-keys').click();
      await app.createKey({ name: 'checkout', service: 'payments' });
      await page.getByTestId('nav-ceremony').click();
      await page.getByTestId('ceremony-steps').waitFor();
      await expect.poll(() => indicator.textContent()).toContain('1 step so far');
      expect(await page.getByTestId('ceremony-step-count').textContent()).toBe('1');
      const step = page.locator('[data-testid="ceremony-steps"] tbody tr');
      expect(await step.count()).toBe(1);
      expect(await step.first().textContent()).toContain('key.create');
      expect(await page.getByTestId(`ceremony-token-${serial}`).isChecked()).toBe(true);
      expectAccessible('ceremony-running', await app.recordMatrix('ceremony-running'));

      // End: the PIN for the signer's token, in the shared PinPrompt (its PIN state shown first).
      expect(await page.getByTestId('ceremony-end-pin-state').getAttribute('data-pin-state')).toBe('ok');
      await page.getByTestId('ceremony-end-pin').fill(DEFAULT_PIN);
      await page.getByTestId('ceremony-end-submit').click();
      await page.getByTestId('ceremony-start').waitFor();
      await indicator.waitFor({ state: 'detached' });
      const [ended] = await app.router!.service.call('ceremony.list', {});
      expect(ended).toMatchObject({ id, open: false, steps: 1, checkpoint: { kid } });
      const row = page.getByTestId(`ceremony-row-${id}`);
      expect(await row.textContent()).toContain('Issue the new payment keys');

      // The transcript: cancelled first (nothing written), then saved to the file the user chose.
      await app.answerDialog(null);
      await page.getByTestId(`ceremony-transcript-${id}`).click();
      await app.waitForAnnouncement(/no transcript was written/);
      const out = path.join(tmp.dir, 'removable', 'ceremony.pdf');
      fs.mkdirSync(path.dirname(out), { recursive: true });
      await app.answerDialog(out);
      await page.getByTestId(`ceremony-transcript-${id}`).click();
      const saved = page.getByTestId('ceremony-saved');
      await saved.waitFor();
      expect(app.dialogs.requests.at(-1)).toMatchObject({ purpose: 'transcript' });
      expect(app.dialogs.requests.at(-1)?.defaultName).toMatch(new RegExp(`^keyhold-ceremony-${id}-\\d{4}-\\d{2}-\\d{2}\\.pdf$`));
      expect(await saved.getAttribute('data-path')).toBe(out);
      expect(await saved.getAttribute('data-verified')).toBe('true');
      const text = execFileSync('pdftotext', ['-enc', 'UTF-8', out, '-'], { encoding: 'utf8' }).replace(/\s+/g, ' ');
      const [entry] = (await app.router!.service.call('audit.list', { action: 'key.create' })).entries;
      expect(text).toContain('Purpose: Issue the new payment keys');
      expect(text).toContain('1. key.create - key payments/production/checkout');
      expect(text).toContain(`time ${entry?.at ?? 'x'}; operator ${entry?.actor ?? 'x'}`);
      expect(text).toContain(`Signer kid: ${kid}`);
      expect(text).toContain('Verified: yes');
      expect(text).toContain('Name: Ada Lovelace');
      expect(text).toContain('Name: Grace Hopper');
      expectAccessible('ceremony-saved', await app.recordMatrix('ceremony-saved'));

      // The same file again: refused before anything is written (main's dialog check), the file untouched.
      const bytes = fs.readFileSync(out);
      await app.answerDialog(out);
      await page.getByTestId(`ceremony-transcript-${id}`).click();
      await page.locator('[data-testid="ceremony-past"] [data-testid="error"]').waitFor();
      expect(await page.locator('[data-testid="ceremony-past"] [data-testid="error"]').getAttribute('data-code')).toBe('FILE_EXISTS');
      expect(fs.readFileSync(out).equals(bytes)).toBe(true);
    } finally {
      await app.close();
    }
  }, 180_000);
});
