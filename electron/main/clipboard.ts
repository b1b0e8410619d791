/**
 * The clipboard half of the router's platform adapter: Electron 45's
 * promise-based clipboard, passed through, with every operation in flight
 * tracked so that quitting can wait for the clearing of a copied secret.
 *
 * router.dispose() (at quit) starts "clear the clipboard if it still holds the
 * secret" without waiting: a read, then maybe a write. If the process ended
 * in between, the secret would stay on the clipboard after Keyhold is gone.
 * `settled()` resolves once no operation is in flight, including one started
 * by the continuation of another. No electron import: tested in Node.
 */

export type AsyncClipboard = Readonly<{
  readText: () => Promise<string>;
  writeText: (text: string) => Promise<void>;
}>;

export type TrackedClipboard = Readonly<{
  clipboardWriteText: (text: string) => Promise<void>;
  clipboardReadText: () => Promise<string>;
  /** Resolves when no clipboard operation is in flight, nor started by one that just finished. */
  settled: () => Promise<void>;
}>;

function nextMacrotask(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export function trackedClipboard(clipboard: AsyncClipboard): TrackedClipboard {
  const inFlight = new Set<Promise<unknown>>();

  function track<T>(op: Promise<T>): Promise<T> {
    inFlight.add(op);
    op.then(
      function done() {
        inFlight.delete(op);
      },
      function failed() {
        inFlight.delete(op);
      },
    );
    return op;
  }

  return Object.freeze({
    clipboardWriteText(text: string): Promise<void> {
      return track(clipboard.writeText(text));
    },
    clipboardReadText(): Promise<string> {
      return track(clipboard.readText());
    },
    async settled(): Promise<void> {
      // A finished read lets its caller start the write on a later turn: check again after one.
      do {
        await Promise.allSettled([...inFlight]);
        await nextMacrotask();
      } while (inFlight.size > 0);
    },
  });
}
