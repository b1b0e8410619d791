/**
 * IPC wiring: one ipcMain.handle per command of the contract, each handing the
 * sender frame and payload to the router (electron/main/router.ts, which checks
 * the sender, validates, runs and answers an envelope); router events forwarded
 * to the window; the window's input events reported as user activity.
 */

import { type BrowserWindow, ipcMain, type IpcMainInvokeEvent } from 'electron';
import { type Result } from '../../shared/contract.js';
import { eventChannel, IPC_METHODS, type IpcCommandName } from '../../shared/ipc-names.js';
import { activityThrottle } from './policy.js';
import { type IpcRouter, type SenderInfo } from './router.js';

/** What the router needs to know about the sender: its frame's URL, and whether it is our window's main frame. */
function senderOf(event: IpcMainInvokeEvent, win: BrowserWindow): SenderInfo {
  const frame = event.senderFrame;
  const ours = !win.isDestroyed() && event.sender.id === win.webContents.id;
  return { url: frame?.url ?? '', isMainFrame: ours && frame !== null && frame.parent === null };
}

/** The router never throws; should that ever break, the renderer still gets an envelope, not Electron's error text. */
function internalError(): Result<never> {
  return { ok: false, error: { code: 'INTERNAL', message: 'ipc: internal error', hint: 'This is a bug in Keyhold.' } };
}

/** Wires the router to IPC and to the window; returns the function that unwires it all. */
export function connectIpc(router: IpcRouter, win: BrowserWindow): () => void {
  const channels: string[] = [];
  for (const [command, , channel] of IPC_METHODS) {
    const name: IpcCommandName = command;
    ipcMain.handle(channel, async function onInvoke(event, payload: unknown) {
      try {
        return await router.handle(name, senderOf(event, win), payload);
      } catch {
        return internalError();
      }
    });
    channels.push(channel);
  }

  const stopEvents = router.onEvent(function forwardEvent(event) {
    if (!win.isDestroyed()) win.webContents.send(eventChannel(event.name), event.payload);
  });

  const onInput = activityThrottle(function notifyActivity() {
    router.notifyActivity();
  }, 1000);
  function onInputEvent(_event: Electron.Event, input: Electron.InputEvent): void {
    onInput(input.type);
  }
  win.webContents.on('input-event', onInputEvent);

  return function disconnectIpc(): void {
    for (const channel of channels) ipcMain.removeHandler(channel);
    stopEvents();
    if (!win.isDestroyed()) win.webContents.off('input-event', onInputEvent);
  };
}
