/**
 * Quorum unlock in the app, end to end: the built renderer in Chromium over
 * the real router, core and vault file. A 2-of-3 quorum keyslot is added on
 * the Keyslots screen, a custodian's paper backup shown (words by line, the
 * QR code decoded back to the same text), the vault locked, and opened again
 * by two custodians in the unlock screen: one with a passphrase (a wrong one
 * first: that custodian's error, nothing lost), one with the paper share's
 * words. A cancelled collection is wiped in the core. Screenshots and
 * axe-core in light and dark, at 1280 and 760 px.
 */
import path from 'node:path';
import jsQR from 'jsqr';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTmpDir, type TmpDir } from '../helpers/tmp.js';
import { App, electronMode, launchBrowser, expectAccessible } from './app.js';

const OWNER = 'correct horse battery staple';
const PASS = {
  alice: 'alice keeps the orchard lantern',
  bob: 'bob paints violet harbour stones',
  carol: 'carol whistles under copper bridges',
} as const;

let browser: Browser | null = null;
let tmp: TmpDir;
let app: App;
const calls: string[] = [];
const pageErrors: string[] = [];
let carolWords: string[] = [];

async function rows(page: Page): Promise<number> {
  return page.getByTestId('keyslot-row').count();
}

/** The pixels of an <img> as the page draws it, for a QR decoder. */
async function imagePixels(page: Page, testId: string): Promise<{ data: number[]; width: number; height: number }> {
  return page.getByTestId(testId).evaluate((node) => {
    const img = node as unknown as { naturalWidth: number; naturalHeight: number };
    const size = 400;
    const doc = (globalThis as unknown as { document: { createElement: (t: string) => unknown } }).document;
    const canvas = doc.createElement('canvas') as { width: number; height: number; getContext: (k: string) => {
      fillStyle: string; fillRect: (x: number, y: number, w: number, h: number) => void;
      drawImage: (i: unknown, x: number, y: number, w: number, h: number) => void;
      getImageData: (x: number, y: number, w: number, h: number) => { data: ArrayLike<number> } } };
    canvas.width = size;
    canvas.height = size;
    const ctx = canvas.getContext('2d');
    ctx.fillStyle = '#ffffff';
    ctx.fillRect(0, 0, size, size);
    ctx.drawImage(img, 0, 0, size, size);
    return { data: Array.from(ctx.getImageData(0, 0, size, size).data), width: size, height: size };
  });
}

beforeAll(async () => {
  if (electronMode()) return;
  tmp = makeTmpDir('keyhold-e2e-quorum-');
  browser = await launchBrowser();
  app = await App.launch(browser, { vaultPath: path.join(tmp.dir, 'vault.db'), onCall: (command) => calls.push(command) });
  app.page.on('pageerror', (e) => pageErrors.push(e.message));
});

afterAll(async () => {
  await app?.close();
  await browser?.close();
  tmp?.remove();
});

describe.skipIf(electronMode())('quorum unlock in the app', () => {
  it('Keyslots: adds a 2-of-3 quorum keyslot with three passphrase custodians', async () => {
    const page = app.page;
    await app.waitForScreen('create-vault');
    await app.createVault(OWNER);
    await app.waitForScreen('keys');
    await page.getByTestId('nav-keyslots').click();
    await page.waitForSelector('main[data-screen="keyslots"]');
    await expect.poll(() => rows(page)).toBe(1);

    await page.getByTestId('keyslot-add-quorum').click();
    const form = page.getByTestId('keyslot-panel-add-quorum');
    await form.waitFor();
    const custodians = form.getByTestId('quorum-custodian-row');
    expect(await custodians.count()).toBe(3);
    expect(await form.getByTestId('quorum-m').inputValue()).toBe('2');
    for (const [i, name] of (['alice', 'bob', 'carol'] as const).entries()) {
      const row = custodians.nth(i);
      await row.getByTestId('quorum-custodian-name').fill(name);
      await row.getByTestId('new-passphrase').fill(PASS[name]);
      await row.getByTestId('confirm-passphrase').fill(PASS[name]);
    }
    await form.getByTestId('quorum-label').fill('board');
    await form.locator('[data-level="ok"]').nth(2).waitFor();
    expectAccessible('keyslot-add-quorum', await app.recordMatrix('keyslot-add-quorum'));
    await form.getByTestId('quorum-submit').click();
    await expect.poll(() => rows(page), { timeout: 30_000 }).toBe(2);
    await app.waitForAnnouncement(/Quorum keyslot #2 added/);
    const row = page.locator('[data-testid="keyslot-row"][data-type="quorum"]');
    expect(await row.getByTestId('slot-quorum').textContent()).toBe('any 2 of 3');
    expect(await row.getByTestId('slot-custodians').textContent()).toBe('alice (passphrase), bob (passphrase), carol (passphrase)');
    expect(await row.textContent()).toContain('board');
    // No passphrase stays in the page.
    expect(await page.getByTestId('new-passphrase').count()).toBe(0);
    expectAccessible('keyslots-quorum', await app.recordMatrix('keyslots-quorum'));
  });

  it('Keyslots: a custodian\'s paper backup: 4 numbered lines of 9 words, and a QR code of the same text', async () => {
    const page = app.page;
    const row = page.locator('[data-testid="keyslot-row"][data-type="quorum"]');
    await row.getByTestId('keyslot-paper').click();
    const form = page.getByTestId('paper-share-form');
    await form.waitFor();
    await form.getByTestId('paper-custodian').selectOption('carol');
    await form.getByTestId('paper-passphrase').fill('not carol at all, no');
    await form.getByTestId('paper-submit').click();
    await form.locator('[data-code="WRONG_PASSPHRASE"]').waitFor();
    await form.getByTestId('paper-passphrase').fill(PASS.carol);
    await form.getByTestId('paper-submit').click();
    const view = page.getByTestId('paper-share');
    await view.waitFor();
    const lines = view.getByTestId('paper-line');
    expect(await lines.count()).toBe(4);
    // Each line: its number, then 9 words (the last one the check word).
    carolWords = await lines.evaluateAll((ls) => ls.map((l) => Array.from((l as unknown as { querySelectorAll: (s: string) => ArrayLike<{ textContent: string | null }> })
      .querySelectorAll('.paper-word')).map((w) => w.textContent ?? '').join(' ')));
    for (const l of carolWords) expect(l.split(' ')).toHaveLength(9);
    expect(await view.getByTestId('paper-print').isVisible()).toBe(true);
    await page.waitForFunction(() => {
      const img = (globalThis as unknown as { document: { querySelector: (s: string) => { complete: boolean; naturalWidth: number } | null } })
        .document.querySelector('[data-testid="paper-qr"]');
      return img !== null && img.complete && img.naturalWidth > 0;
    });
    const px = await imagePixels(page, 'paper-qr');
    const decoded = jsQR(Uint8ClampedArray.from(px.data), px.width, px.height);
    expect(decoded?.data).toBe(carolWords.map((l, i) => `${i + 1}. ${l}`).join('\n'));
    expectAccessible('keyslot-paper-share', await app.recordMatrix('keyslot-paper-share'));
    await view.getByTestId('paper-close').click();
    await expect.poll(() => view.count()).toBe(0);
    const audit = await app.router!.service.call('audit.list', { action: 'share.paper' });
    expect(audit.entries.map((e) => e.details)).toEqual([expect.objectContaining({ custodian: 'carol', id: 2 })]);
  });

  it('Unlock: a cancelled collection is wiped in the core', async () => {
    const page = app.page;
    await app.lock();
    await page.getByTestId('method-quorum').check();
    await page.getByTestId('quorum-unlock').waitFor();
    await expect.poll(() => page.getByTestId('quorum-count').textContent()).toBe('0 of 2 collected, 2 more needed');
    await page.getByTestId('quorum-give-alice').click();
    await page.getByTestId('quorum-passphrase').fill(PASS.alice);
    await page.getByTestId('quorum-share-submit').click();
    await expect.poll(() => page.getByTestId('quorum-count').textContent(), { timeout: 20_000 }).toBe('1 of 2 collected, 1 more needed');
    await page.getByTestId('quorum-cancel').click();
    await page.getByTestId('quorum-cancelled').waitFor();
    expect(calls).toContain('quorum.cancel');
    expect((await app.router!.service.call('vault.status', {})).unlocked).toBe(false);
  });

  it('Unlock: two custodians open the vault, one at a time (a wrong passphrase is theirs alone; a paper share counts)', async () => {
    const page = app.page;
    await page.getByTestId('quorum-start').click();
    await expect.poll(() => page.getByTestId('quorum-count').textContent()).toBe('0 of 2 collected, 2 more needed');
    for (const name of ['alice', 'bob', 'carol']) expect(await page.getByTestId(`quorum-custodian-${name}`).getAttribute('data-given')).toBe('false');
    expectAccessible('unlock-quorum', await app.recordMatrix('unlock-quorum'));

    await page.getByTestId('quorum-give-alice').click();
    await page.getByTestId('quorum-passphrase').fill('not alice at all, sorry');
    await page.getByTestId('quorum-share-submit').click();
    await page.locator('[data-code="WRONG_PASSPHRASE"]').waitFor({ timeout: 20_000 });
    expect(await page.getByTestId('quorum-count').textContent()).toBe('0 of 2 collected, 2 more needed');
    expect(await page.getByTestId('quorum-passphrase').inputValue()).toBe('');
    await page.getByTestId('quorum-passphrase').fill(PASS.alice);
    await page.getByTestId('quorum-share-submit').click();
    await expect.poll(() => page.getByTestId('quorum-count').textContent(), { timeout: 20_000 }).toBe('1 of 2 collected, 1 more needed');
    expect(await page.getByTestId('quorum-custodian-alice').getAttribute('data-given')).toBe('true');
    expect(await app.screenName()).toBe('unlock');
    expect((await app.router!.service.call('vault.status', {})).unlocked).toBe(false);

    await page.getByTestId('quorum-give-carol').click();
    await page.getByTestId('quorum-way-paper').check();
    // One mistyped line first: named by its number, the words kept to be corrected.
    const typo = carolWords.map((l, i) => (i === 2 ? l.replace(/^\S+/, (w) => (w === 'zoo' ? 'zone' : 'zoo')) : l));
    await page.getByTestId('quorum-words').fill(typo.join('\n'));
    expectAccessible('unlock-quorum-paper', await app.recordMatrix('unlock-quorum-paper'));
    await page.getByTestId('quorum-words-submit').click();
    await page.locator('[data-code="INVALID_INPUT"]', { hasText: 'line 3' }).waitFor();
    await page.getByTestId('quorum-words').fill(carolWords.join('\n'));
    await page.getByTestId('quorum-words-submit').click();
    await app.waitForScreen('keys', 20_000);
    expect((await app.router!.service.call('vault.status', {})).unlocked).toBe(true);
    expect(calls.filter((c) => c === 'quorum.share').length).toBeGreaterThanOrEqual(4);
  });

  it('Keyslots: re-share dropping a custodian; the old paper share stops working', async () => {
    const page = app.page;
    await page.getByTestId('nav-keyslots').click();
    await page.waitForSelector('main[data-screen="keyslots"]');
    await expect.poll(() => rows(page)).toBe(2);
    await page.locator('[data-testid="keyslot-row"][data-type="quorum"]').getByTestId('keyslot-reshare').click();
    const form = page.getByTestId('keyslot-panel-reshare');
    await form.waitFor();
    const custodians = form.getByTestId('quorum-custodian-row');
    expect(await custodians.getByTestId('quorum-custodian-name').evaluateAll((els) => els.map((e) => (e as unknown as { value: string }).value)))
      .toEqual(['alice', 'bob', 'carol']);
    await custodians.nth(1).getByTestId('quorum-custodian-drop').click();
    await expect.poll(() => custodians.count()).toBe(2);
    for (const [i, name] of (['alice', 'carol'] as const).entries()) {
      await custodians.nth(i).getByTestId('new-passphrase').fill(PASS[name]);
      await custodians.nth(i).getByTestId('confirm-passphrase').fill(PASS[name]);
    }
    expectAccessible('keyslot-reshare', await app.recordMatrix('keyslot-reshare'));
    await form.getByTestId('quorum-submit').click();
    await app.waitForAnnouncement(/Keyslot #2 re-shared as keyslot #3/, 30_000);
    const row = page.locator('[data-testid="keyslot-row"][data-type="quorum"]');
    expect(await row.getAttribute('data-id')).toBe('3');
    expect(await row.getByTestId('slot-custodians').textContent()).toBe('alice (passphrase), carol (passphrase)');
    expect(await row.getByTestId('slot-quorum').textContent()).toBe('any 2 of 2');

    // Carol's paper share of the old split opens nothing now.
    await app.lock();
    const svc = app.router!.service;
    const { session } = await svc.call('quorum.begin', { path: path.join(tmp.dir, 'vault.db') });
    await expect(svc.call('quorum.share', { session, custodian: 'carol', words: carolWords.join('\n') })).rejects.toMatchObject({ code: 'QUORUM_SHARE' });
    await svc.call('quorum.cancel', { session });
    expect(pageErrors).toEqual([]);
  });
});
