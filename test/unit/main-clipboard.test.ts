import { describe, expect, it } from 'vitest';
import { clipboardAdapter, type AsyncClipboard } from '../../electron/main/clipboard.js';

/**
 * An in-memory clipboard with Electron 45's promise-based shape. Each call
 * resolves on a later turn, as the OS clipboard does, so ordering bugs show.
 */
function memoryClipboard(initial = ''): AsyncClipboard & { text: string; writes: string[] } {
  const state = {
    text: initial,
    writes: [] as string[],
    readText: async (): Promise<string> => {
      await new Promise((r) => setTimeout(r, 1));
      return state.text;
    },
    writeText: async (t: string): Promise<void> => {
      await new Promise((r) => setTimeout(r, 1));
      state.text = t;
      state.writes.push(t);
    },
  };
  return state;
}

describe('clipboardAdapter over a promise-based clipboard', () => {
  it('writes, then clears when the clipboard still holds what it wrote', async () => {
    const os = memoryClipboard('before');
    const a = clipboardAdapter(os);
    a.clipboardWriteText('khk_secret');
    expect(a.clipboardReadText()).toBe('khk_secret');
    await a.settled();
    expect(os.text).toBe('khk_secret');
    a.clipboardWriteText('');
    await a.settled();
    expect(os.text).toBe('');
    expect(a.clipboardReadText()).toBe('');
  });

  it('leaves the clipboard alone when the user copied something else since', async () => {
    const os = memoryClipboard();
    const a = clipboardAdapter(os);
    a.clipboardWriteText('khk_secret');
    await a.settled();
    os.text = 'something the user copied';
    a.clipboardWriteText('');
    await a.settled();
    expect(os.text).toBe('something the user copied');
  });

  it('keeps order when a clear and a new copy follow each other at once', async () => {
    const os = memoryClipboard();
    const a = clipboardAdapter(os);
    a.clipboardWriteText('first');
    a.clipboardWriteText('');
    a.clipboardWriteText('second');
    await a.settled();
    expect(os.text).toBe('second');
    expect(os.writes).toEqual(['first', '', 'second']);
  });

  it('a clear with nothing of ours pending touches nothing', async () => {
    const os = memoryClipboard('user text');
    const a = clipboardAdapter(os);
    a.clipboardWriteText('');
    await a.settled();
    expect(os.text).toBe('user text');
    expect(os.writes).toEqual([]);
  });

  it('a failing clipboard does not stop later operations', async () => {
    const os = memoryClipboard();
    let fail = true;
    const flaky: AsyncClipboard = {
      readText: os.readText,
      writeText: (t) => (fail ? Promise.reject(new Error('clipboard owned by another app')) : os.writeText(t)),
    };
    const a = clipboardAdapter(flaky);
    a.clipboardWriteText('one');
    await a.settled();
    fail = false;
    a.clipboardWriteText('two');
    await a.settled();
    expect(os.text).toBe('two');
  });
});
