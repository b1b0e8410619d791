/**
 * A whole key ceremony in the app, start to finish, without a terminal: the
 * built renderer in Chromium over the real router and core, a REAL SoftHSM2
 * token (its own SOFTHSM2_CONF) and the REAL `keyhold-import` on a stand-in
 * server. Every step goes through the screens; the test only answers main's
 * file dialogs (as the user would) and, on the server side, runs the importer.
 *
 * Create a vault; generate a signing key on the token; add a token keyslot;
 * lock; unlock with the token and its PIN; create keys; see what is due;
 * rotate with the progress bar; revoke a key with a reason; register a
 * server's public key and a signer; export the trust root and a bundle (the
 * summary read before signing); verify and apply that bundle with
 * keyhold-import; verify the audit chain and export the log.
 *
 * The vault's clock starts 100 days back (the service's clock option), so the
 * keys made early in the ceremony are overdue when it reaches the rotation;
 * it is set to now before anything is signed, so the server sees a bundle of
 * today.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureImporterBuilt, ROOT } from '../cli/run.js';
import { DEFAULT_PIN, setupSoftHsm, type SoftHsm } from '../helpers/softhsm.js';
import { makeTmpDir, type TmpDir } from '../helpers/tmp.js';
import { App, electronMode, launchBrowser, expectAccessible } from './app.js';

const PASS = 'correct horse battery staple';
const IMPORTER = path.join(ROOT, 'importer', 'bin', 'keyhold-import.mjs');
const DAY_MS = 86_400_000;

let browser: Browser | null = null;
let hsm: SoftHsm;
let tmp: TmpDir;
let app: App;
let serial = '';
/** How far the vault's clock is behind the real one. */
let behindMs = 100 * DAY_MS;
const calls: string[] = [];

function importer(args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [IMPORTER, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(async () => {
  if (electronMode()) return;
  ensureImporterBuilt();
  hsm = setupSoftHsm([{ label: 'custodian-card' }]);
  serial = hsm.serial('custodian-card');
  tmp = makeTmpDir('keyhold-e2e-ceremony-');
  browser = await launchBrowser();
  app = await App.launch(browser, {
    vaultPath: path.join(tmp.dir, 'vault.db'),
    router: { service: { tokens: { module: hsm.module }, clock: () => new Date(Date.now() - behindMs) } },
    onCall: (command) => calls.push(command),
  });
});

afterAll(async () => {
  await app?.close();
  await browser?.close();
  hsm?.cleanup();
  tmp?.remove();
});

describe.skipIf(electronMode())('a whole ceremony in the app (SoftHSM2, keyhold-import)', () => {
  it('vault, token key, token keyslot, token unlock, keys, rotation, revocation, recipient, signer, trust root, bundle, import, audit', async () => {
    const page = app.page;

    // 1. A new vault.
    await app.waitForScreen('create-vault');
    await app.createVault(PASS);
    await app.waitForScreen('keys');
    await app.screenshot('ceremony-01-vault-created');

    // 2. A signing key generated on the token.
    await page.getByTestId('nav-tokens').click();
    const card = page.locator(`[data-testid="token-card"][data-serial="${serial}"]`);
    await card.waitFor();
    await card.getByTestId('keygen-open').click();
    await card.getByTestId('keygen-label').fill('signer1');
    await card.getByTestId('keygen-alg').selectOption('ES256');
    await card.getByTestId('keygen-pin').fill(DEFAULT_PIN);
    await card.getByTestId('keygen-submit').click();
    const signingKey = card.locator('[data-testid="token-key"][data-label="signer1"]');
    await signingKey.waitFor();
    await app.screenshot('ceremony-02-token-key');

    // 3. A token keyslot: a new key pair on the token wraps the vault's key.
    await page.getByTestId('nav-keyslots').click();
    await page.getByTestId('keyslot-add-token').click();
    const form = page.getByTestId('add-token-form');
    await form.locator(`[data-testid="keyslot-token"][data-serial="${serial}"] input`).check();
    await page.getByTestId('keyslot-new-key-label').fill('vault-unlock');
    await page.getByTestId('keyslot-token-label').fill('custodian card');
    await page.getByTestId('keyslot-pin-pin').fill(DEFAULT_PIN);
    await page.getByTestId('keyslot-pin-submit').click();
    await page.locator('[data-testid="keyslot-row"][data-type="token"]').waitFor({ timeout: 30_000 });
    await app.screenshot('ceremony-03-token-keyslot');

    // 4. Lock, then unlock with the token and its PIN (no passphrase).
    await app.lock();
    await page.getByTestId('method-token').check();
    await page.getByTestId(`token-option-${serial}`).check();
    expect(await page.getByTestId(`token-pin-${serial}`).getAttribute('data-pin-state')).toBe('ok');
    await page.getByTestId('unlock-token-pin').fill(DEFAULT_PIN);
    await page.getByTestId('unlock-token-submit').click();
    await app.waitForScreen('keys');
    expect(calls.filter((c) => c === 'vault.unlock')).toHaveLength(0);
    expect(calls).toContain('vault.unlockToken');
    await app.screenshot('ceremony-04-unlocked-by-token');

    // 5. Keys, created in the form.
    for (const [name, service] of [['checkout', 'payments'], ['refunds', 'payments'], ['ledger', 'billing']] as const) {
      await app.createKey({ name, service });
    }
    await app.waitForKeyCount(3);

    // 6. What is due: 100 days later, all three are past the default 90 days.
    behindMs = 0;
    await page.getByTestId('nav-rotation').click();
    await page.getByTestId('count-overdue').waitFor();
    await expect.poll(() => page.getByTestId('count-overdue').getAttribute('data-count')).toBe('3');
    await app.screenshot('ceremony-05-due');

    // 7. Rotate all due, with the progress bar fed by the progress events.
    const progressBefore = app.events.filter((e) => e.name === 'progress').length;
    await page.getByTestId('rotate-due').click();
    await page.getByTestId('confirm-rotation').waitFor();
    await page.getByTestId('confirm-rotate').click();
    await page.locator('[data-testid="rotation-run"][data-phase="done"]').waitFor();
    expect(await page.getByTestId('rotation-result').getAttribute('data-committed')).toBe('3');
    expect(await page.locator('[data-testid="rotation-run"] [role="progressbar"]').getAttribute('aria-valuenow')).toBe('3');
    expect(app.events.filter((e) => e.name === 'progress').length).toBeGreaterThan(progressBefore);
    await app.screenshot('ceremony-06-rotated');
    await page.getByTestId('close-result').click();

    // 8. Revoke a key, with a reason, after a confirmation that names it.
    await page.getByTestId('nav-keys').click();
    await app.openKey('refunds');
    await page.getByTestId('key-revoke').click();
    await page.getByTestId('revoke-dialog').waitFor();
    expect(await page.getByTestId('revoke-summary').textContent()).toContain('payments/production/refunds');
    await page.getByTestId('revoke-reason-compromised').check();
    await page.getByTestId('confirm-revoke').click();
    await page.locator('[data-testid="version-2"][data-state="revoked"]').waitFor();
    await app.screenshot('ceremony-07-revoked');

    // 9. The server's public key (from keyhold-import keygen, chosen in the open dialog) and a signer.
    const serverKey = path.join(tmp.dir, 'server.jwk');
    const serverPub = path.join(tmp.dir, 'server.pub.jwk');
    const kg = importer(['keygen', '--crv', 'X25519', '--out', serverKey, '--public-out', serverPub, '--json']);
    expect(kg.code, kg.stderr).toBe(0);
    await page.getByTestId('nav-bundles').click();
    await page.getByTestId('recipient-name').fill('gateway');
    await page.getByTestId('recipient-verifies').fill('payments');
    await page.getByTestId('recipient-holds').fill('billing');
    await app.answerDialog(serverPub);
    await page.getByTestId('recipient-key-file').click();
    await expect.poll(() => page.getByTestId('recipient-key-chosen').textContent()).toContain('server.pub.jwk');
    await page.getByTestId('recipient-add').click();
    await page.getByTestId('recipient-gateway').waitFor();
    await page.getByTestId('signer-token').selectOption(serial);
    await expect.poll(() => page.getByTestId('signer-key').inputValue()).toBe('signer1');
    await page.getByTestId('signer-add').click();
    await page.getByTestId('signer-signer1').waitFor();

    // 10. The trust root, signed on the token and saved where the custodian chose.
    const rootPath = path.join(tmp.dir, 'trust-root.json');
    await app.answerDialog(rootPath);
    await page.getByTestId('trust-pin').fill(DEFAULT_PIN);
    await page.getByTestId('trust-submit').click();
    await page.getByTestId('trust-done').waitFor();
    expect(fs.existsSync(rootPath)).toBe(true);

    // 11. The bundle: its summary first (hash and words), then an explicit confirmation, the PIN, the save dialog.
    await page.getByTestId('export-recipient').selectOption('gateway');
    await page.getByTestId('prepare-bundle').click();
    const summary = page.getByTestId('bundle-summary');
    await summary.waitFor();
    const hash = (await summary.getAttribute('data-hash')) ?? '';
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    const issued = Number(await page.getByTestId('summary-issued').textContent());
    expect(issued).toBeGreaterThan(0);
    expect(calls).not.toContain('bundle.export');
    await app.screenshot('ceremony-08-summary');
    const bundlePath = path.join(tmp.dir, 'gateway-1.khb');
    await page.getByTestId('confirm-summary').check();
    await app.answerDialog(bundlePath);
    await page.getByTestId('sign-pin').fill(DEFAULT_PIN);
    await page.getByTestId('sign-submit').click();
    const signed = page.getByTestId('bundle-signed');
    await signed.waitFor();
    expect(await signed.getAttribute('data-hash')).toBe(hash);
    expect(fs.existsSync(bundlePath)).toBe(true);
    await app.screenshot('ceremony-09-signed');

    // 12. On the server: verify against the trust root, then apply. The revoked key's secret never arrives.
    const state = path.join(tmp.dir, 'server-state');
    fs.mkdirSync(state, { mode: 0o700 });
    const v = importer(['verify', '--trust', rootPath, '--key', serverKey, '--json', bundlePath]);
    expect(v.code, v.stderr).toBe(0);
    expect(JSON.parse(v.stdout)).toMatchObject({ ok: true, recipientChecked: true, bundle: { payloadHash: hash, sequence: 1 } });
    const ap = importer(['apply', '--trust', rootPath, '--key', serverKey, '--state', state, '--json', bundlePath]);
    expect(ap.code, ap.stderr).toBe(0);
    expect(JSON.parse(ap.stdout)).toMatchObject({ ok: true, status: 'applied', sequence: 1, payloadHash: hash, issued });

    // 13. The audit chain verifies, and the log is exported where the custodian chose.
    await page.getByTestId('nav-audit').click();
    await page.locator('[data-testid="verify-status"][data-ok="true"]').waitFor();
    const entries = Number(await page.getByTestId('verify-entries').textContent());
    const auditPath = path.join(tmp.dir, 'audit.jsonl');
    await app.answerDialog(auditPath);
    await page.getByTestId('export-audit').click();
    await page.getByTestId('export-result').waitFor();
    // keyhold-audit/v1: a header line, then one line per entry (the export itself is not in its own file).
    expect(fs.readFileSync(auditPath, 'utf8').trim().split('\n')).toHaveLength(entries + 1);
    expectAccessible('ceremony-audit', await app.record('ceremony-10-audit'));

    // Every file the ceremony wrote was chosen in a dialog main showed; the page never named a path.
    expect(app.dialogs.requests.map((r) => r.purpose)).toEqual(['public-key', 'trust', 'bundle', 'audit']);
  });
});
