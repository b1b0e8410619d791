/**
 * The Bundles screen end to end: the built renderer in Chromium over the real
 * router and core, a REAL SoftHSM2 token (its own SOFTHSM2_CONF) and the REAL
 * importer CLI. The file dialogs are main's, answered by the test bridge.
 *
 * The ceremony: register a server (its public key from keyhold-import keygen,
 * chosen in the open dialog) and a signer (a token key), export the trust
 * root, prepare a bundle and read its summary (counts, keys, the payload hash
 * and the same hash as 24 words), try to sign without the confirmation (no
 * bundle.export is called), confirm, sign with the PIN, save through the save
 * dialog, see file, size, hash and signer; then `keyhold-import verify` checks
 * the file written: the same payload hash, signed by the registered signer.
 * The bundle is then written again (resend): the same bytes. Each view is
 * recorded in light and dark at 1280 and 760 px with axe-core.
 *
 * M of N: a second signer on another token and a threshold of 2; a bundle
 * signed on one token says it has 1 of the 2 signatures, the other token
 * co-signs the file chosen in the open dialog, and the importer accepts it
 * under a trust root of threshold 2.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashWords } from '../../shared/hash-words.js';
import { ensureImporterBuilt, ROOT } from '../cli/run.js';
import { DEFAULT_PIN, setupSoftHsm, type SoftHsm } from '../helpers/softhsm.js';
import { makeTmpDir, type TmpDir } from '../helpers/tmp.js';
import { App, electronMode, launchBrowser, expectAccessible } from './app.js';

const PASS = 'correct horse battery staple';
/** The importer's command (its bin runs the compiled importer/dist, which ensureImporterBuilt makes). */
const IMPORTER = path.join(ROOT, 'importer', 'bin', 'keyhold-import.mjs');

let browser: Browser | null = null;
let hsm: SoftHsm;
let tmp: TmpDir;
let app: App;
let serial = '';
let serial2 = '';
/** Every command the page called, in order (names only). */
const calls: string[] = [];

function importer(args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [IMPORTER, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(async () => {
  // Browser mode only: the token module lives in the test's router.
  if (electronMode()) return;
  ensureImporterBuilt();
  hsm = setupSoftHsm([{ label: 'card' }, { label: 'card2' }]);
  serial = hsm.serial('card');
  serial2 = hsm.serial('card2');
  tmp = makeTmpDir('keyhold-e2e-bundles-');
  browser = await launchBrowser();
  app = await App.launch(browser, {
    vaultPath: path.join(tmp.dir, 'vault.db'),
    router: { service: { tokens: { module: hsm.module } } },
    onCall: (command) => calls.push(command),
  });
});

afterAll(async () => {
  await app?.close();
  await browser?.close();
  hsm?.cleanup();
  tmp?.remove();
});

describe.skipIf(electronMode())('bundles in the app (SoftHSM2, keyhold-import)', () => {
  it('recipient and signer registered, trust root, summary with hash and words, confirm, sign with the PIN, save, verified by the importer', async () => {
    const page = app.page;
    await app.waitForScreen('create-vault');
    await app.createVault(PASS);
    await app.waitForScreen('keys');
    // Set-up the other screens own: a signing key on the token, and keys to send.
    const svc = app.router!.service;
    const gen = await svc.call('token.keygen', { token: 'card', label: 'signer1', alg: 'ES256', pin: DEFAULT_PIN });
    for (const [name, service] of [['checkout', 'payments'], ['refunds', 'payments'], ['ledger', 'billing']] as const) {
      await svc.call('key.create', { name, service, scopes: ['read'] });
    }
    // The server's key pair, as a server makes it.
    const serverKey = path.join(tmp.dir, 'server.jwk');
    const serverPub = path.join(tmp.dir, 'server.pub.jwk');
    const kg = importer(['keygen', '--crv', 'X25519', '--out', serverKey, '--public-out', serverPub, '--json']);
    expect(kg.code, kg.stderr).toBe(0);
    expect(fs.existsSync(serverPub)).toBe(true);

    await page.getByTestId('nav-bundles').click();
    await page.waitForSelector('main[data-screen="bundles"] [data-testid="no-recipients"]');
    await page.getByTestId('export-no-recipients').waitFor();
    expectAccessible('bundles-empty', await app.record('bundles-empty'));

    // A recipient: name, services, the public key chosen in main's open dialog.
    await page.getByTestId('recipient-name').fill('gateway');
    await page.getByTestId('recipient-verifies').fill('payments');
    await page.getByTestId('recipient-holds').fill('billing');
    await app.answerDialog(serverPub);
    await page.getByTestId('recipient-key-file').click();
    await expect.poll(() => page.getByTestId('recipient-key-chosen').textContent()).toContain('server.pub.jwk');
    expect(app.dialogs.requests.at(-1)).toMatchObject({ purpose: 'public-key' });
    await page.getByTestId('recipient-add').click();
    await page.getByTestId('recipient-gateway').waitFor();
    expect(await page.getByTestId('recipient-gateway-sequence').textContent()).toBe('none yet');

    // A signer: the token, then its signing key (read from the token without a PIN).
    await page.getByTestId('signer-token').selectOption(serial);
    await expect.poll(() => page.getByTestId('signer-key').inputValue()).toBe('signer1');
    await page.getByTestId('signer-add').click();
    await page.getByTestId('signer-signer1').waitFor();
    expect(await page.getByTestId('signer-signer1').textContent()).toContain(gen.kid);

    // The trust root, signed with the PIN and saved through the save dialog.
    const rootPath = path.join(tmp.dir, 'trust-root.json');
    await app.answerDialog(rootPath);
    await page.getByTestId('trust-pin').fill(DEFAULT_PIN);
    await page.getByTestId('trust-submit').click();
    await page.getByTestId('trust-done').waitFor();
    expect(fs.existsSync(rootPath)).toBe(true);
    expect(await page.getByTestId('trust-pin').inputValue()).toBe('');
    expectAccessible('bundles', await app.recordMatrix('bundles'));

    // Prepare: the summary, nothing signed.
    await page.getByTestId('export-recipient').selectOption('gateway');
    await page.getByTestId('prepare-bundle').click();
    const summary = page.getByTestId('bundle-summary');
    await summary.waitFor();
    const hash = (await summary.getAttribute('data-hash')) ?? '';
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(await page.getByTestId('summary-hash').textContent()).toBe(hash);
    const words = await page.locator('[data-testid="summary-words"] .word').allTextContents();
    expect(words).toEqual(hashWords(hash));
    expect(await page.locator('[data-testid="summary-words"] li').first().textContent()).toBe(`1${words[0]}`);
    expect(await page.getByTestId('summary-issued').textContent()).toBe('3');
    expect(await page.getByTestId('summary-revoked').textContent()).toBe('0');
    expect(await page.getByTestId('summary-secrets').textContent()).toBe('1');
    expect(await page.locator('[data-testid="summary-keys"] tbody tr td.key-path').allTextContents()).toEqual([
      'billing/production/ledger', 'payments/production/checkout', 'payments/production/refunds']);
    expect(await page.getByTestId('summary-recipient').textContent()).toContain('gateway');
    expect(calls).not.toContain('bundle.export');
    expectAccessible('bundle-summary', await app.recordMatrix('bundle-summary'));

    // Not confirmed: the PIN goes nowhere, nothing is signed.
    const mark = calls.length;
    await page.getByTestId('sign-pin').fill(DEFAULT_PIN);
    await page.getByTestId('sign-submit').click();
    await page.getByTestId('confirm-summary-error').waitFor();
    expect(calls.slice(mark)).not.toContain('bundle.export');
    expect(calls.slice(mark)).not.toContain('dialog.save');
    expect((await svc.call('recipient.list', {}))[0]?.sequence).toBe(0);

    // Confirmed: the PIN, then the save dialog, then the file.
    const bundlePath = path.join(tmp.dir, 'gateway-1.khb');
    await page.getByTestId('confirm-summary').check();
    await app.answerDialog(bundlePath);
    await page.getByTestId('sign-pin').fill(DEFAULT_PIN);
    await page.getByTestId('sign-submit').click();
    const signed = page.getByTestId('bundle-signed');
    await signed.waitFor();
    expect(app.dialogs.requests.at(-1)).toMatchObject({ purpose: 'bundle', defaultName: 'gateway-bundle-1.khb' });
    expect(await signed.getAttribute('data-hash')).toBe(hash);
    expect(await page.getByTestId('signed-path').textContent()).toBe(bundlePath);
    const bytes = fs.statSync(bundlePath).size;
    expect(await page.getByTestId('signed-bytes').getAttribute('data-bytes')).toBe(String(bytes));
    expect(await page.getByTestId('signed-kids').textContent()).toContain(gen.kid);
    expect(await page.getByTestId('signed-threshold').textContent()).toMatch(/1 of 1 signatures/);
    expectAccessible('bundle-signed', await app.recordMatrix('bundle-signed'));

    // The importer verifies the file written: this payload, this signer, for this server.
    const v = importer(['verify', '--trust', rootPath, '--key', serverKey, '--json', bundlePath]);
    expect(v.code, v.stderr).toBe(0);
    const verified = JSON.parse(v.stdout) as { ok: boolean; recipientChecked: boolean; bundle: { payloadHash: string; signers: string[]; sequence: number; issue: unknown[]; hasSecrets: boolean } };
    expect(verified).toMatchObject({ ok: true, recipientChecked: true });
    expect(verified.bundle).toMatchObject({ payloadHash: hash, signers: [gen.kid], sequence: 1, hasSecrets: true });
    expect(verified.bundle.issue).toHaveLength(3);

    // Written again from the vault: the very same bytes.
    await page.getByTestId('signed-done').click();
    await page.getByTestId('export').waitFor();
    expect(await page.getByTestId('recipient-gateway-sequence').textContent()).toBe('1');
    const again = path.join(tmp.dir, 'gateway-1-again.khb');
    await app.answerDialog(again);
    await page.getByTestId('resend-submit').click();
    await page.getByTestId('resend-done').waitFor();
    expect(fs.readFileSync(again).equals(fs.readFileSync(bundlePath))).toBe(true);
  });
  it('M of N: a second signer on another token, threshold 2, a bundle signed by one token, co-signed from a file by the other', async () => {
    const page = app.page;
    const svc = app.router!.service;
    const gen2 = await svc.call('token.keygen', { token: 'card2', label: 'signer2', alg: 'EdDSA', pin: DEFAULT_PIN });
    const first = (await svc.call('signer.list', {})).signers[0]!.kid;
    await svc.call('key.create', { name: 'payouts', service: 'payments', scopes: ['write'] });
    // Reload the screen so that it reads the tokens again.
    await page.getByTestId('nav-keys').click();
    await page.getByTestId('nav-bundles').click();
    await page.getByTestId('export').waitFor();

    await page.getByTestId('signer-token').selectOption(serial2);
    await expect.poll(() => page.getByTestId('signer-key').inputValue()).toBe('signer2');
    await page.getByTestId('signer-add').click();
    await page.getByTestId('signer-signer2').waitFor();
    await page.getByTestId('threshold').fill('2');
    await page.getByTestId('threshold-set').click();
    await expect.poll(async () => (await svc.call('signer.list', {})).threshold).toBe(2);

    // Prepared and signed on the first token only: 1 of the 2 signatures.
    await page.getByTestId('prepare-bundle').click();
    await page.getByTestId('bundle-summary').waitFor();
    const hash = (await page.getByTestId('bundle-summary').getAttribute('data-hash')) ?? '';
    expect(await page.getByTestId('summary-issued').textContent()).toBe('1');
    await page.getByTestId('confirm-summary').check();
    await page.getByTestId(`sign-token-${serial}`).check();
    const bundlePath = path.join(tmp.dir, 'gateway-2.khb');
    await app.answerDialog(bundlePath);
    await page.getByTestId('sign-pin').fill(DEFAULT_PIN);
    await page.getByTestId('sign-submit').click();
    await page.getByTestId('bundle-signed').waitFor();
    expect(await page.getByTestId('signed-threshold').textContent()).toMatch(/1 of the 2 signatures/);
    await page.getByTestId('signed-done').click();

    // The other custodian: the file chosen in the open dialog, their token and PIN.
    await app.answerDialog(bundlePath);
    await page.getByTestId('cosign-file').click();
    expect(app.dialogs.requests.at(-1)).toMatchObject({ purpose: 'bundle' });
    await page.getByTestId(`cosign-token-${serial2}`).check();
    await page.getByTestId('cosign-pin').fill(DEFAULT_PIN);
    await page.getByTestId('cosign-submit').click();
    await page.getByTestId('cosign-done').waitFor();
    expect(await page.getByTestId('cosign-done').textContent()).toContain('2 signatures');
    const kids = (JSON.parse(fs.readFileSync(bundlePath, 'utf8')) as { signatures: { protected: string }[] }).signatures
      .map((x) => (JSON.parse(Buffer.from(x.protected, 'base64url').toString('utf8')) as { kid: string }).kid);
    expect(kids).toEqual([first, gen2.kid]);

    // A trust root of threshold 2 (both tokens are logged in by now), and the importer accepts the co-signed bundle.
    const root2 = path.join(tmp.dir, 'trust-root-2.json');
    expect(await svc.call('trust.export', { out: root2 })).toMatchObject({ version: 2, threshold: 2 });
    const v = importer(['verify', '--trust', root2, '--key', path.join(tmp.dir, 'server.jwk'), '--json', bundlePath]);
    expect(v.code, v.stderr).toBe(0);
    expect(JSON.parse(v.stdout)).toMatchObject({ ok: true, bundle: { payloadHash: hash, sequence: 2 } });
  });
});
