/**
 * Token hotplug. USB attach/detach events (the `usb` package's WebUSB API)
 * trigger a debounced rescan of PKCS#11 slots, and listeners hear about it
 * only when the set of tokens present changed. Where USB events are not
 * available (no USB subsystem, as on CI machines and some VMs, or the native
 * module does not load), the watcher polls the slot list instead and says so
 * in its `mode`.
 */

import type { TokenDescription } from './token.js';

/** The part of the WebUSB API the watcher needs. */
export type UsbEventSource = {
  getDevices(): Promise<unknown[]>;
  addEventListener(type: 'connect' | 'disconnect', listener: () => void): void;
  removeEventListener(type: 'connect' | 'disconnect', listener: () => void): void;
};

export type HotplugMode = Readonly<{ mode: 'usb' | 'polling'; reason?: string }>;

export type TokenWatcherOptions = Readonly<{
  /** Lists the tokens present (TokenManager.scan). */
  scan: () => TokenDescription[];
  /** Called with the tokens present each time the set changes. */
  onChange: (tokens: TokenDescription[]) => void;
  /** Called when a rescan fails (a module error); the watcher keeps going. */
  onError?: ((e: unknown) => void) | undefined;
  debounceMs?: number | undefined;
  pollMs?: number | undefined;
  /** The USB event source; default: the `usb` package, loaded on start. null forces polling. */
  usb?: UsbEventSource | null | undefined;
}>;

function signature(tokens: readonly TokenDescription[]): string {
  return tokens.map((t) => `${t.module}|${t.slot}|${t.serial}|${t.label}`).sort().join('\n');
}

async function defaultUsb(): Promise<UsbEventSource> {
  const { WebUSB } = await import('usb');
  return new WebUSB({ allowAllDevices: true });
}

export class TokenWatcher {
  readonly #opts: TokenWatcherOptions;
  #timer: NodeJS.Timeout | null = null;
  #poll: NodeJS.Timeout | null = null;
  #usb: UsbEventSource | null = null;
  #last: string | null = null;
  #stopped = false;
  readonly #onUsb = (): void => this.trigger();

  constructor(opts: TokenWatcherOptions) {
    this.#opts = opts;
  }

  /** Starts watching; resolves with how (USB events or polling, and why). */
  async start(): Promise<HotplugMode> {
    this.#stopped = false;
    this.#last = signature(this.#safeScan() ?? []);
    let reason: string;
    try {
      const usb = this.#opts.usb === undefined ? await defaultUsb() : this.#opts.usb;
      if (usb === null) throw new Error('USB events disabled');
      await usb.getDevices(); // throws where there is no USB subsystem
      usb.addEventListener('connect', this.#onUsb);
      usb.addEventListener('disconnect', this.#onUsb);
      this.#usb = usb;
      return { mode: 'usb' };
    } catch (e) {
      reason = e instanceof Error ? e.message : String(e);
    }
    this.#poll = setInterval(() => this.rescan(), this.#opts.pollMs ?? 2000);
    this.#poll.unref();
    return { mode: 'polling', reason };
  }

  /** A USB event: rescan once things settle (a card reader sends several). */
  trigger(): void {
    if (this.#stopped) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.rescan();
    }, this.#opts.debounceMs ?? 300);
    this.#timer.unref();
  }

  #safeScan(): TokenDescription[] | null {
    try {
      return this.#opts.scan();
    } catch (e) {
      this.#opts.onError?.(e);
      return null;
    }
  }

  /** Rescans now; tells listeners if the set of tokens changed. */
  rescan(): void {
    if (this.#stopped) return;
    const tokens = this.#safeScan();
    if (!tokens) return;
    const sig = signature(tokens);
    if (sig === this.#last) return;
    this.#last = sig;
    this.#opts.onChange(tokens);
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#poll) clearInterval(this.#poll);
    this.#timer = this.#poll = null;
    if (this.#usb) {
      this.#usb.removeEventListener('connect', this.#onUsb);
      this.#usb.removeEventListener('disconnect', this.#onUsb);
      this.#usb = null;
    }
  }
}
