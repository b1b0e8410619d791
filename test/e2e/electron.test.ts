/**
 * The real app, through playwright-core's Electron support, where an Electron
 * binary exists. These machines cannot download one (see
 * ../shared/design/FIELD-NOTES.md), so here the test reports itself skipped
 * with the reason; nothing stands in for Electron.
 *
 * To run it with a binary (after `npm run build`):
 *   ELECTRON_PATH=/path/to/electron npx vitest run test/e2e/electron.test.ts
 * or, with a normal install that downloaded Electron, just the command above
 * without ELECTRON_PATH. The browser suites run against the real app too with
 * KEYHOLD_E2E_ELECTRON=1 (App.launch then starts Electron instead of Chromium):
 *   KEYHOLD_E2E_ELECTRON=1 npx vitest run test/e2e
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isValidApiKey } from '../../shared/apikey.js';
import { tmpDir } from '../helpers/tmp.js';
import { App, electronBinary } from './app.js';

const bin = electronBinary();
const reason = 'missing' in bin ? bin.missing : '';
if (reason) console.log(`e2e: Electron tests skipped: ${reason}. Set ELECTRON_PATH to an Electron binary to run them.`);

describe.skipIf(reason !== '')(`the real Electron app${reason ? ` (skipped: ${reason})` : ''}`, () => {
  it('creates a vault and a key, reveals it, locks and unlocks, with window.keyhold from the real preload', async () => {
    const previous = process.env.KEYHOLD_E2E_ELECTRON;
    process.env.KEYHOLD_E2E_ELECTRON = '1';
    const app = await App.launch(null, { vaultPath: path.join(tmpDir('keyhold-e2e-electron-'), 'vault.db') });
    try {
      const page = app.page;
      const exposed = await page.evaluate(() => ({
        require: typeof (globalThis as { require?: unknown }).require,
        process: typeof (globalThis as { process?: unknown }).process,
        keyhold: typeof (globalThis as { keyhold?: unknown }).keyhold,
      }));
      expect(exposed).toEqual({ require: 'undefined', process: 'undefined', keyhold: 'object' });
      await app.waitForScreen('create-vault');
      await app.createVault('correct horse battery staple');
      await app.waitForScreen('keys', 60_000);
      await app.createKey({ name: 'checkout', service: 'payments' });
      expect(isValidApiKey(await app.reveal())).toBe(true);
      await app.lock();
      await app.unlock('wrong passphrase');
      await page.getByTestId('unlock-error').waitFor();
      await app.unlock('correct horse battery staple');
      await app.waitForKeyCount(1);
      expect(await page.evaluate(() => fetch('https://example.com/').then(() => 'fetched', (e: Error) => e.name))).toBe('TypeError');
    } finally {
      await app.close();
      if (previous === undefined) delete process.env.KEYHOLD_E2E_ELECTRON;
      else process.env.KEYHOLD_E2E_ELECTRON = previous;
    }
  }, 120_000);
});
