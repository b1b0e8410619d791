/**
 * The clipboard half of the router's platform adapter, over Electron 45's
 * promise-based clipboard (readText and writeText return promises there).
 *
 * The router's adapter is synchronous: to clear a copied secret it reads the
 * clipboard, compares the digest with the secret's, and writes '' if they
 * match (the user may have copied something else since). A promise cannot be
 * read synchronously, so this adapter answers the read with the text it last
 * wrote itself, and does the real comparison when the router asks for the
 * clear: it reads the clipboard then, and writes '' only if it still holds that
 * text. Writes run in order on one queue. No electron import: tested in Node.
 *
 * Cost: the copied text stays in main's memory until the clear (at most the
 * clear delay, and lock or quit end it), where the router alone would keep
 * only a digest. A router adapter that accepts promises would remove that.
 */

export type AsyncClipboard = Readonly<{
  readText: () => Promise<string>;
  writeText: (text: string) => Promise<void>;
}>;

export type ClipboardAdapter = Readonly<{
  clipboardWriteText: (text: string) => void;
  clipboardReadText: () => string;
  /** Resolves when every queued clipboard operation has finished (tests, and quit). */
  settled: () => Promise<void>;
}>;

export function clipboardAdapter(clipboard: AsyncClipboard): ClipboardAdapter {
  let written: string | null = null;
  let queue: Promise<void> = Promise.resolve();

  function enqueue(op: () => Promise<void>): void {
    // One failed operation (a clipboard owned by another app) must not stop the next.
    queue = queue.then(op).catch(function ignoreClipboardError() {
      return undefined;
    });
  }

  return Object.freeze({
    clipboardWriteText(text: string): void {
      if (text !== '') {
        written = text;
        enqueue(function writeText() {
          return clipboard.writeText(text);
        });
        return;
      }
      const ours = written;
      written = null;
      if (ours === null) return;
      enqueue(async function clearIfUnchanged() {
        if ((await clipboard.readText()) === ours) await clipboard.writeText('');
      });
    },
    clipboardReadText(): string {
      return written ?? '';
    },
    settled(): Promise<void> {
      return queue;
    },
  });
}
