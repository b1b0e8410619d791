import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { trackedClipboard, type AsyncClipboard } from '../../electron/main/clipboard.js';
import { APP_ENTRY_URL, APP_ORIGIN } from '../../electron/main/policy.js';
import { makeTestRouter } from '../helpers/router.js';
import { tmpDir } from '../helpers/tmp.js';

/**
 * An in-memory clipboard with Electron 45's promise-based shape (the OS
 * clipboard does not exist here). Each call answers on a later turn, after
 * `delayMs`, as a clipboard owned by another process does.
 */
function memoryClipboard(initial = '', delayMs = 5): AsyncClipboard & { text: string } {
  const state = {
    text: initial,
    readText: async (): Promise<string> => {
      await new Promise((r) => setTimeout(r, delayMs));
      return state.text;
    },
    writeText: async (t: string): Promise<void> => {
      await new Promise((r) => setTimeout(r, delayMs));
      state.text = t;
    },
  };
  return state;
}

describe('trackedClipboard', () => {
  it('passes reads and writes through', async () => {
    const os = memoryClipboard('before');
    const c = trackedClipboard(os);
    expect(await c.clipboardReadText()).toBe('before');
    await c.clipboardWriteText('after');
    expect(os.text).toBe('after');
  });

  it('settled() waits for a write that a finished read started, as "clear if unchanged" does', async () => {
    const os = memoryClipboard('secret');
    const c = trackedClipboard(os);
    // Started and not awaited, as router.dispose() starts it.
    void (async () => {
      if ((await c.clipboardReadText()) === 'secret') await c.clipboardWriteText('');
    })();
    await c.settled();
    expect(os.text).toBe('');
  });

  it('settled() resolves at once when nothing is in flight, and after a failed operation', async () => {
    const c = trackedClipboard({
      readText: () => Promise.reject(new Error('clipboard owned by another app')),
      writeText: () => Promise.resolve(),
    });
    await c.settled();
    await expect(c.clipboardReadText()).rejects.toThrow(/another app/);
    await c.settled();
  });
});

describe('quit with a copied secret (the real router)', () => {
  it('dispose() starts the clear, settled() sees it reach the clipboard', async () => {
    const os = memoryClipboard('', 20);
    const clip = trackedClipboard(os);
    const { router } = makeTestRouter({
      vaultPath: path.join(tmpDir(), 'vault.db'),
      allowedOrigins: [APP_ORIGIN],
      platform: {
        clipboardWriteText: clip.clipboardWriteText,
        clipboardReadText: clip.clipboardReadText,
        networkInterfaces: () => [],
      },
    });
    const sender = { url: APP_ENTRY_URL, isMainFrame: true };
    const created = await router.handle('vault.create', sender, { passphrase: 'correct horse battery staple' });
    expect(created.ok).toBe(true);
    const key = await router.handle('key.create', sender, { name: 'checkout', service: 'payments', environment: 'production', scopes: ['charges:write'] });
    expect(key.ok).toBe(true);
    const id = (key as { ok: true; value: { id: string } }).value.id;
    const copied = await router.handle('clipboard.copySecret', sender, { id });
    expect(copied.ok).toBe(true);
    expect(os.text).toMatch(/^khk_/);

    router.dispose();
    // Not yet cleared: the read is still in flight when dispose() returns.
    expect(os.text).toMatch(/^khk_/);
    await clip.settled();
    expect(os.text).toBe('');
  });
});
