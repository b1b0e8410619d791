/**
 * Preload: the only bridge between the sandboxed renderer and main. It exposes
 * one object, `window.keyhold`: a small named function per command of the IPC
 * contract (shared/ipc-names.ts) and `on(event, listener)`, built by
 * shared/ipc-bridge.ts. Nothing generic crosses: no ipcRenderer, no send or
 * invoke taking a channel, no Node object, not even the IPC event (its
 * `sender` is ipcRenderer itself). Bundled into one CommonJS file that
 * requires only electron, as a sandboxed preload must be; no zod here, main
 * validates every payload anyway.
 */

import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import { buildKeyholdApi } from '../../shared/ipc-bridge.js';
import { eventChannel, IPC_EVENTS, IPC_METHODS } from '../../shared/ipc-names.js';

const COMMAND_CHANNELS: ReadonlySet<string> = new Set(IPC_METHODS.map(([, , channel]) => channel));
const EVENT_CHANNELS: ReadonlySet<string> = new Set(IPC_EVENTS.map((e) => eventChannel(e)));

/** Invokes one of the contract's channels; any other is refused here, before IPC. */
function invokeCommand(channel: string, payload: unknown): Promise<unknown> {
  if (!COMMAND_CHANNELS.has(channel)) return Promise.reject(new Error('preload: not a command channel'));
  return ipcRenderer.invoke(channel, payload);
}

/**
 * Subscribes to one of the contract's event channels. Each subscription has its
 * own wrapper, and the returned function removes exactly that wrapper (the
 * listener itself was never registered with ipcRenderer, so removing it would
 * remove nothing).
 */
function subscribeEvent(channel: string, listener: (payload: unknown) => void): () => void {
  if (!EVENT_CHANNELS.has(channel)) throw new Error('preload: not an event channel');
  function deliver(_event: IpcRendererEvent, payload: unknown): void {
    listener(payload);
  }
  ipcRenderer.on(channel, deliver);
  return function removeSubscription(): void {
    ipcRenderer.removeListener(channel, deliver);
  };
}

contextBridge.exposeInMainWorld('keyhold', buildKeyholdApi(invokeCommand, subscribeEvent));
