/**
 * Operators, roles and dual control in the app, end to end: the built
 * renderer in Chromium over the real core (app.ts), a vault with four
 * operators (alice: every role, the vault's creator; bob: key operator;
 * carol: auditor; dave: custodian).
 *
 * - After unlock no one is signed in: the sign-in screen; a wrong passphrase
 *   is refused (OPERATOR_AUTH_FAILED), nothing else is reachable.
 * - bob (key operator) sees neither the Operators nor the Audit area and no
 *   policy editing; destroying a revoked secret is under dual control: cancel
 *   in the approval dialog leaves the secret in place; approved there by dave
 *   (wrong passphrase first), it is destroyed, and the one audit entry names
 *   bob as actor and dave as approver.
 * - carol (auditor) has no reveal or copy button, sees Audit, not Operators.
 * - alice (security officer) sees the Operators screen, adds an operator
 *   (dual-controlled: approved by dave in the dialog) and removes it.
 * Screenshots light/dark at 1280/760 with axe-core: sign-in, approval dialog,
 * Operators screen.
 */
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyholdService } from '../../electron/core/service.js';
import { DEFAULT_PIN, setupSoftHsm, type SoftHsm } from '../helpers/softhsm.js';
import { FAST_KDF, makeTmpDir, type TmpDir } from '../helpers/tmp.js';
import { App, electronMode, expectAccessible, launchBrowser } from './app.js';

const PASS = 'correct horse battery staple';
const OPS = {
  bob: { roles: ['key-operator'], passphrase: 'bob keeps seven violet lanterns lit' },
  carol: { roles: ['auditor'], passphrase: 'carol audits amber river maps daily' },
  dave: { roles: ['custodian'], passphrase: 'dave guards quiet copper bridges twice' },
} as const;
const ERIN = 'erin rotates purple glass tides slowly';

let browser: Browser | null = null;
let tmp: TmpDir;
let hsm: SoftHsm | null = null;

beforeAll(async () => {
  tmp = makeTmpDir('keyhold-e2e-operators-');
  if (!electronMode()) browser = await launchBrowser();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  hsm?.cleanup();
  tmp?.remove();
});

/** alice creates the vault (first operator, every role), two keys (one revoked), then the three other operators. */
async function prepareVault(file: string): Promise<{ oldId: string }> {
  const svc = new KeyholdService({ actor: 'alice' });
  try {
    await svc.call('vault.create', { path: file, passphrase: PASS, kdf: FAST_KDF });
    await svc.call('key.create', { name: 'checkout', service: 'payments' });
    const old = await svc.call('key.create', { name: 'old', service: 'mail' });
    await svc.call('key.revoke', { id: old.id, reason: 'retired' });
    for (const [name, o] of Object.entries(OPS)) await svc.call('operator.add', { name, roles: [...o.roles], passphrase: o.passphrase });
    return { oldId: old.id };
  } finally {
    svc.close();
  }
}

async function signIn(app: App, name: string, passphrase: string): Promise<void> {
  await app.waitForScreen('sign-in');
  await app.page.getByTestId('sign-in-operator').selectOption(name);
  await app.page.getByTestId('sign-in-passphrase').fill(passphrase);
  await app.page.getByTestId('sign-in-submit').click();
  await app.page.locator(`[data-testid="signed-in"][data-operator="${name}"]`).waitFor();
  await app.waitForScreen('keys');
}

async function switchTo(app: App, name: string, passphrase: string): Promise<void> {
  await app.page.getByTestId('switch-operator').click();
  await signIn(app, name, passphrase);
}

async function navIds(app: App): Promise<string[]> {
  const buttons = await app.page.locator('nav.sidebar li [data-testid^="nav-"]').all();
  return Promise.all(buttons.map(async (b) => (await b.getAttribute('data-testid')) ?? ''));
}

describe.skipIf(electronMode())('Operators, roles and dual control in the app', () => {
  it('signs operators in, shows each only what their roles allow, and runs dual-controlled actions after a second operator approves', async () => {
    const vaultPath = path.join(tmp.dir, 'operators.db');
    const { oldId } = await prepareVault(vaultPath);
    const app = await App.launch(browser, { vaultPath });
    const router = app.router;
    if (!router) throw new Error('browser mode has the router');
    const page = app.page;
    try {
      // Unlocked, but four operators and no one signed in: the sign-in screen, nothing else.
      await app.unlock(PASS);
      await app.waitForScreen('sign-in');
      expect(await page.locator('nav.sidebar').count()).toBe(0);
      expect(await page.getByTestId('sign-in-operator').locator('option').allTextContents()).toEqual(['alice', 'bob', 'carol', 'dave']);
      expectAccessible('sign-in', await app.recordMatrix('operators-sign-in'));

      // A wrong passphrase: refused, still no one signed in.
      await page.getByTestId('sign-in-operator').selectOption('bob');
      await page.getByTestId('sign-in-passphrase').fill('not the passphrase of bob');
      await page.getByTestId('sign-in-submit').click();
      await page.locator('[data-testid="sign-in-error"] [data-code="OPERATOR_AUTH_FAILED"]').waitFor();
      expect(await page.getByTestId('sign-in-passphrase').inputValue()).toBe('');
      expect((await router.service.call('operator.whoami', {})).operator).toBe(null);

      // bob, key operator: no Operators or Audit area, no policy editing.
      await page.getByTestId('sign-in-passphrase').fill(OPS.bob.passphrase);
      await page.getByTestId('sign-in-submit').click();
      await page.locator('[data-testid="signed-in"][data-operator="bob"]').waitFor();
      await app.waitForScreen('keys');
      const bobNav = await navIds(app);
      expect(bobNav).toEqual(expect.arrayContaining(['nav-keys', 'nav-rotation', 'nav-tokens', 'nav-bundles', 'nav-keyslots', 'nav-settings']));
      expect(bobNav).not.toContain('nav-operators');
      expect(bobNav).not.toContain('nav-audit');
      await page.keyboard.press('Alt+8');
      expect(await app.screenName()).toBe('keys');
      await page.getByTestId('nav-settings').click();
      await page.getByTestId('policy-row-payments').waitFor();
      expect(await page.getByTestId('policy-edit-payments').count()).toBe(0);
      await page.getByTestId('policy-not-allowed').filter({ hasText: 'Needs the security officer role' }).waitFor();
      await page.getByTestId('nav-keys').click();
      await app.waitForScreen('keys');

      // Destroy is under dual control: the approval dialog opens with the core's summary and hash.
      await app.openKey('old');
      await page.getByTestId('destroy-version-1').click();
      await page.getByTestId('confirm-destroy').click();
      const dialog = page.getByTestId('approval-dialog');
      await dialog.waitFor();
      expect(await dialog.getAttribute('data-command')).toBe('key.destroy');
      expect(await page.getByTestId('approval-hash').getAttribute('data-hash')).toMatch(/^[0-9a-f]{64}$/);
      expect(await page.getByTestId('approval-summary').textContent()).toContain('mail/production/old');
      expect(await page.getByTestId('approval-operator').locator('option').allTextContents()).toEqual(['alice', 'dave']);
      expectAccessible('approval', await app.recordMatrix('operators-approval'));

      // Cancelled: nothing is destroyed, the destroy dialog says why.
      await page.getByTestId('approval-cancel').click();
      await page.locator('[data-testid="destroy-dialog"] [data-testid="error"][data-code="DUAL_CONTROL_REQUIRED"]').waitFor();
      expect((await router.service.call('key.show', { id: oldId })).versions[0]?.destroyedAt).toBe(null);

      // Again, approved by dave (a wrong passphrase first): destroyed.
      await page.getByTestId('confirm-destroy').click();
      await dialog.waitFor();
      await page.getByTestId('approval-operator').selectOption('dave');
      await page.getByTestId('approval-passphrase').fill('not the passphrase of dave');
      await page.getByTestId('approval-submit').click();
      await page.locator('[data-testid="approval-error"] [data-code="OPERATOR_AUTH_FAILED"]').waitFor();
      expect((await router.service.call('key.show', { id: oldId })).versions[0]?.destroyedAt).toBe(null);
      await page.getByTestId('approval-passphrase').fill(OPS.dave.passphrase);
      await page.getByTestId('approval-submit').click();
      await dialog.waitFor({ state: 'detached' });
      await page.getByTestId('destroy-dialog').waitFor({ state: 'detached' });
      expect((await router.service.call('key.show', { id: oldId })).versions[0]?.destroyedAt).not.toBe(null);

      // carol, auditor: no reveal or copy button; Audit yes, Operators no.
      await switchTo(app, 'carol', OPS.carol.passphrase);
      const carolNav = await navIds(app);
      expect(carolNav).toContain('nav-audit');
      expect(carolNav).not.toContain('nav-operators');
      await app.openKey('checkout');
      await page.getByTestId('reveal-not-allowed').filter({ hasText: 'Needs the key operator role' }).waitFor();
      expect(await page.getByTestId('reveal').count()).toBe(0);
      expect(await page.getByTestId('copy').count()).toBe(0);
      expect(await page.getByTestId('reveal-version-1').count()).toBe(0);
      expect(await page.getByTestId('key-rotate').isDisabled()).toBe(true);

      // alice, security officer: the Operators screen.
      await switchTo(app, 'alice', PASS);
      expect(await navIds(app)).toContain('nav-operators');
      await page.getByTestId('nav-operators').click();
      await app.waitForScreen('operators');
      await page.getByTestId('operator-dave').waitFor();
      expect(await page.locator('[data-testid="operator-table"] tbody tr').count()).toBe(4);
      expect(await page.getByTestId('operator-bob').getAttribute('data-roles')).toBe('key-operator');
      expect(await page.getByTestId('dual-control-state').getAttribute('data-active')).toBe('true');
      expect(await page.getByTestId('rule-key.destroy').isChecked()).toBe(true);
      expectAccessible('operators', await app.recordMatrix('operators'));

      // The destroy's audit entry: bob acted, dave approved.
      const destroyed = (await router.service.call('audit.list', { action: 'key.destroy' })).entries;
      expect(destroyed.map((e) => [e.actor, e.details.approvedBy])).toEqual([['bob', 'dave']]);

      // Adding an operator is dual-controlled too: dave approves in the dialog.
      await page.getByTestId('operator-add').click();
      await page.getByTestId('operator-name').fill('erin');
      expect(await page.getByTestId('operator-roles-key-operator').isChecked()).toBe(true);
      await page.getByTestId('new-passphrase').fill(ERIN);
      await page.getByTestId('confirm-passphrase').fill(ERIN);
      await app.screenshot('operators-add');
      await page.getByTestId('operator-add-submit').click();
      await dialog.waitFor();
      expect(await dialog.getAttribute('data-command')).toBe('operator.add');
      expect(await page.getByTestId('approval-operator').locator('option').allTextContents()).toEqual(['dave']);
      await page.getByTestId('approval-passphrase').fill(OPS.dave.passphrase);
      await page.getByTestId('approval-submit').click();
      await page.getByTestId('operator-erin').waitFor();
      const added = (await router.service.call('audit.list', { action: 'operator.add' })).entries.at(-1);
      expect([added?.subject, added?.actor, added?.details.approvedBy]).toEqual(['operator:erin', 'alice', 'dave']);

      // Removing names the operator and needs an approval as well.
      await page.getByTestId('remove-operator-erin').click();
      await page.getByTestId('remove-operator-summary').filter({ hasText: 'erin' }).waitFor();
      await page.getByTestId('confirm-remove-operator').click();
      await dialog.waitFor();
      await page.getByTestId('approval-passphrase').fill(OPS.dave.passphrase);
      await page.getByTestId('approval-submit').click();
      await page.getByTestId('operator-erin').waitFor({ state: 'detached' });
      expect((await router.service.call('operator.list', {})).map((o) => o.name)).toEqual(['alice', 'bob', 'carol', 'dave']);

      // Signing out: back to the sign-in screen.
      await page.getByTestId('sign-out').click();
      await app.waitForScreen('sign-in');
      expect((await router.service.call('operator.whoami', {})).operator).toBe(null);
    } finally {
      await app.close();
    }
  }, 180_000);

  it('signs in an operator by their token and PIN, and takes a token operator\'s approval in the dialog', async () => {
    hsm = setupSoftHsm([{ label: 'card' }]);
    const tokens = { module: hsm.module };
    const vaultPath = path.join(tmp.dir, 'token-operators.db');
    const svc = new KeyholdService({ actor: 'alice', tokens });
    let oldId: string;
    try {
      await svc.call('vault.create', { path: vaultPath, passphrase: PASS, kdf: FAST_KDF });
      const old = await svc.call('key.create', { name: 'old', service: 'mail' });
      oldId = old.id;
      await svc.call('key.revoke', { id: old.id, reason: 'retired' });
      await svc.call('token.keygen', { token: 'card', label: 'op-tina', alg: 'EdDSA', pin: DEFAULT_PIN });
      await svc.call('operator.add', { name: 'tina', roles: ['custodian'], token: 'card', keyLabel: 'op-tina' });
    } finally {
      svc.close();
      await svc.shutdown();
    }
    const app = await App.launch(browser, { vaultPath, router: { service: { tokens } } });
    const router = app.router;
    if (!router) throw new Error('browser mode has the router');
    const page = app.page;
    try {
      // tina signs in with her token: the PIN is asked for that token, by name, with its PIN state first.
      await app.unlock(PASS);
      await app.waitForScreen('sign-in');
      await page.getByTestId('sign-in-operator').selectOption('tina');
      await page.getByTestId('sign-in-method').filter({ hasText: 'tina signs in with a key on their token' }).waitFor();
      await page.locator('[data-testid="sign-in-token-pin-state"][data-pin-state="ok"]').waitFor();
      await page.getByTestId('sign-in-token-pin').fill('000000');
      await page.getByTestId('sign-in-token-submit').click();
      await page.locator('[data-testid="sign-in-token-error"] [data-code="TOKEN_PIN_INCORRECT"]').waitFor();
      expect((await router.service.call('operator.whoami', {})).operator).toBe(null);
      await app.screenshot('operators-sign-in-token');
      await page.getByTestId('sign-in-token-pin').fill(DEFAULT_PIN);
      await page.getByTestId('sign-in-token-submit').click();
      await page.locator('[data-testid="signed-in"][data-operator="tina"]').waitFor();
      await app.waitForScreen('keys');
      // A custodian: no key actions, no reveal.
      expect(await page.getByTestId('new-key').isDisabled()).toBe(true);

      // alice destroys; tina approves in the dialog with her token's PIN.
      await page.getByTestId('switch-operator').click();
      await signIn(app, 'alice', PASS);
      await app.openKey('old');
      await page.getByTestId('destroy-version-1').click();
      await page.getByTestId('confirm-destroy').click();
      await page.getByTestId('approval-dialog').waitFor();
      expect(await page.getByTestId('approval-operator').locator('option').allTextContents()).toEqual(['tina']);
      await page.getByTestId('approval-token-pin').fill(DEFAULT_PIN);
      await page.getByTestId('approval-token-submit').click();
      await page.getByTestId('approval-dialog').waitFor({ state: 'detached' });
      await page.getByTestId('destroy-dialog').waitFor({ state: 'detached' });
      expect((await router.service.call('key.show', { id: oldId })).versions[0]?.destroyedAt).not.toBe(null);
      const entry = (await router.service.call('audit.list', { action: 'key.destroy' })).entries.at(-1);
      expect([entry?.actor, entry?.details.approvedBy]).toEqual(['alice', 'tina']);
    } finally {
      await app.close();
    }
  }, 180_000);
});
