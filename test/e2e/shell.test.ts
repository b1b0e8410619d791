/**
 * The app's shell in Chromium over the real core: the navigation between the
 * vault's areas and the keyboard shortcuts the help overlay documents
 * (Ctrl+L, Ctrl+F, Ctrl+N, Alt+1..7, F1 or ?, Esc), and the screens before the
 * vault opens (create, unlock) in light and dark at 1280 and 760 px with
 * axe-core.
 */
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTmpDir, type TmpDir } from '../helpers/tmp.js';
import { App, electronMode, expectAccessible, launchBrowser } from './app.js';

const PASS = 'correct horse battery staple';
/** The areas in the bar, in order (renderer/src/screens/registry.ts). */
// Every area of the registry (a web-project module, loaded by path): a vault's one operator holds every role and sees them all.
const { SCREENS } = (await import(path.resolve(import.meta.dirname, '../../renderer/src/screens/registry.ts'))) as {
  SCREENS: ReadonlyArray<{ id: string }>;
};
const AREAS: readonly string[] = SCREENS.map((s) => s.id);

let browser: Browser | null = null;
let tmp: TmpDir;

beforeAll(async () => {
  tmp = makeTmpDir('keyhold-e2e-shell-');
  if (!electronMode()) browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  tmp?.remove();
});

describe('the shell', () => {
  it('navigates by the bar and by Alt+digit; Ctrl+N, Ctrl+F, F1 and Esc, Ctrl+L do what the overlay says', async () => {
    const app = await App.launch(browser, { vaultPath: path.join(tmp.dir, 'vault.db') });
    const page = app.page;
    try {
      await app.waitForScreen('create-vault');
      expectAccessible('create-vault', await app.recordMatrix('create-vault'));
      await app.createVault(PASS);
      await app.waitForScreen('keys');

      // The bar: each area by its button, the current one marked for assistive technology.
      const buttons = await page.locator('nav[aria-label="Vault areas"] li button').all();
      expect(await Promise.all(buttons.map((b) => b.getAttribute('data-testid')))).toEqual(AREAS.map((a) => `nav-${a}`));
      for (const id of AREAS) {
        await page.getByTestId(`nav-${id}`).click();
        await page.waitForSelector(`main[data-screen="${id}"]`);
        expect(await page.getByTestId(`nav-${id}`).getAttribute('aria-current')).toBe('page');
      }
      // Alt+digit, from anywhere.
      await page.keyboard.press('Alt+1');
      await app.waitForScreen('keys');
      await page.keyboard.press('Alt+5');
      await page.waitForSelector('main[data-screen="audit"]');

      // Ctrl+N: the new-key form, from another area; Esc closes it.
      await page.keyboard.press('Control+n');
      await app.waitForScreen('create-key');
      await page.keyboard.press('Escape');
      await app.waitForScreen('keys');

      // Ctrl+F: the keys' search box has the focus, from another area.
      await page.keyboard.press('Alt+3');
      await page.waitForSelector('main[data-screen="tokens"]');
      await page.keyboard.press('Control+f');
      await app.waitForScreen('keys');
      await expect.poll(() => app.focusedTestId()).toBe('search');

      // F1: the overlay lists the shortcuts; Esc closes it and nothing else.
      await page.locator('body').click({ position: { x: 5, y: 5 } });
      await page.keyboard.press('F1');
      const help = page.getByTestId('help');
      await help.waitFor();
      const text = (await help.textContent()) ?? '';
      for (const k of ['Ctrl+L', 'Ctrl+F', 'Ctrl+N', 'Alt+1', 'Alt+7', 'Esc']) expect(text).toContain(k);
      expectAccessible('help', await app.recordMatrix('help'));
      await page.keyboard.press('Escape');
      await help.waitFor({ state: 'detached' });
      await app.waitForScreen('keys');
      // "?" outside a text field opens it too.
      await page.keyboard.press('Shift+?');
      await help.waitFor();
      await page.keyboard.press('Escape');
      await help.waitFor({ state: 'detached' });

      // Ctrl+L locks.
      await page.keyboard.press('Control+l');
      await app.waitForScreen('unlock');
      expectAccessible('unlock', await app.recordMatrix('unlock'));
    } finally {
      await app.close();
    }
  });
});
