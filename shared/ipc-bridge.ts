/**
 * Builds `window.keyhold` from the contract's names: one small named function
 * per command, and `on(event, listener)` returning its unsubscribe function.
 * Nothing generic is exposed (no send(channel), no ipcRenderer).
 *
 * The preload calls it with ipcRenderer; the end-to-end tests call it with a
 * Playwright binding that reaches the same router main uses. Both give:
 * - invoke(channel, payload): resolves to the router's envelope;
 * - subscribe(channel, listener): registers a listener, returns its remover.
 *
 * No zod here (the preload stays small); main validates everything anyway.
 */

import type { Result } from './contract.js';
import {
  eventChannel,
  IPC_EVENTS,
  IPC_METHODS,
  isIpcEventName,
  type IpcEventName,
  type KeyholdApi,
} from './ipc-names.js';

export type IpcInvoke = (channel: string, payload: unknown) => Promise<unknown>;
export type IpcSubscribe = (channel: string, listener: (payload: unknown) => void) => () => void;

/** What a caller sees when the transport itself fails (main gone, a clone error). */
function transportError(): Result<never> {
  return { ok: false, error: { code: 'INTERNAL', message: 'ipc: no answer from the main process', hint: 'Restart Keyhold.' } };
}

export function buildKeyholdApi(invoke: IpcInvoke, subscribe: IpcSubscribe): KeyholdApi {
  const api: Record<string, unknown> = {};
  for (const [, method, channel] of IPC_METHODS) {
    // Named per command so stack traces and devtools say which one ran.
    const call = {
      async [method](input?: unknown): Promise<unknown> {
        try {
          return await invoke(channel, input === undefined ? {} : input);
        } catch {
          // Main answers envelopes and never throws; a rejection means the
          // channel broke, and its text (from Electron) is not ours to show.
          return transportError();
        }
      },
    }[method];
    api[method] = call;
  }
  api.on = function on(event: IpcEventName, listener: (payload: unknown) => void): () => void {
    if (!isIpcEventName(event)) throw new TypeError(`keyhold.on: unknown event (known: ${IPC_EVENTS.join(', ')})`);
    if (typeof listener !== 'function') throw new TypeError('keyhold.on: listener must be a function');
    let remove: (() => void) | null = subscribe(eventChannel(event), function forward(payload) {
      listener(payload);
    });
    return function unsubscribe(): void {
      remove?.();
      remove = null;
    };
  };
  return Object.freeze(api) as unknown as KeyholdApi;
}
