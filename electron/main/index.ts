/**
 * Electron main process: lifecycle, the window and its lockdown, IPC wiring.
 * Thin on purpose: custody logic lives in electron/core (no electron import),
 * IPC handling in router.ts, every security decision in policy.ts; this file
 * only connects them to Electron, and is the one part the Node tests cannot run.
 */

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { app, type BrowserWindow, clipboard, dialog, Menu, protocol, session } from 'electron';
import { serveAppRequest } from './app-protocol.js';
import { trackedClipboard, type TrackedClipboard } from './clipboard.js';
import { connectIpc } from './ipc.js';
import { hardenSession, installLockdown, type ContentsPolicy } from './lockdown.js';
import {
  APP_ENTRY_URL,
  APP_ORIGIN,
  APP_SCHEME,
  devServerOrigin,
  resolveSettings,
  resolveVaultPath,
} from './policy.js';
import { createIpcRouter, type DialogRequest, listInterfaces, type IpcRouter } from './router.js';
import { createMainWindow } from './window.js';

const production = app.isPackaged;
const policy: ContentsPolicy = {
  production,
  dev: !production,
  // `npm run dev` serves the renderer from electron-vite's loopback dev server.
  devServerUrl: production ? undefined : process.env.ELECTRON_RENDERER_URL,
};
const RENDERER_ROOT = path.join(import.meta.dirname, '../renderer');
const PRELOAD_PATH = path.join(import.meta.dirname, '../preload/index.cjs');
/** How long quitting waits for the clearing of a copied secret to reach the OS clipboard. */
const QUIT_CLIPBOARD_WAIT_MS = 2000;

// Before ready, as Electron requires: app:// is a standard, secure origin of its
// own (module scripts and same-origin fetches work; no CORS for other origins).
protocol.registerSchemesAsPrivileged([
  {
    scheme: APP_SCHEME,
    privileges: { standard: true, secure: true, supportFetchAPI: true, codeCache: true, corsEnabled: false },
  },
]);
// Every renderer sandboxed, whatever a window's own preferences say.
app.enableSandbox();

let win: BrowserWindow | null = null;
let router: IpcRouter | null = null;
let disconnect: (() => void) | null = null;
let clip: TrackedClipboard | null = null;

/** No reload or devtools entries in production; macOS keeps its app and edit menus (copy and paste need them). */
function installMenu(): void {
  if (!production) return;
  if (process.platform === 'darwin') {
    Menu.setApplicationMenu(Menu.buildFromTemplate([{ role: 'appMenu' }, { role: 'editMenu' }]));
  } else {
    Menu.setApplicationMenu(null);
  }
}

function createRouter(): IpcRouter {
  const vaultPath = resolveVaultPath(process.env, app.getPath('userData'));
  // The default location's folder may not exist yet on a first run; the user's own choice is left as given.
  if (!process.env.KEYHOLD_VAULT?.trim()) fs.mkdirSync(path.dirname(vaultPath), { recursive: true, mode: 0o700 });
  const dev = devServerOrigin(policy);
  const tracked = trackedClipboard(clipboard);
  clip = tracked;
  return createIpcRouter({
    vaultPath,
    allowedOrigins: dev === null ? [APP_ORIGIN] : [APP_ORIGIN, dev],
    platform: {
      clipboardWriteText: tracked.clipboardWriteText,
      clipboardReadText: tracked.clipboardReadText,
      // Read only, for the air-gap indicator; main opens no connection.
      networkInterfaces: function readInterfaces() {
        return listInterfaces(os.networkInterfaces());
      },
      // The renderer never names a path: main asks the user and the renderer gets a handle (router.ts).
      showOpenDialog: async function showOpen(r: DialogRequest) {
        if (!win) return null;
        const res = await dialog.showOpenDialog(win, { title: r.title, filters: r.filters.map((f) => ({ ...f, extensions: [...f.extensions] })),
          properties: ['openFile', 'dontAddToRecent'] });
        return res.canceled ? null : (res.filePaths[0] ?? null);
      },
      showSaveDialog: async function showSave(r: DialogRequest) {
        if (!win) return null;
        const res = await dialog.showSaveDialog(win, { title: r.title, ...(r.defaultName ? { defaultPath: r.defaultName } : {}),
          filters: r.filters.map((f) => ({ ...f, extensions: [...f.extensions] })),
          properties: ['createDirectory', 'dontAddToRecent'] });
        return res.canceled || !res.filePath ? null : res.filePath;
      },
    },
    settings: resolveSettings(process.env),
    // Smartcards and HSMs come and go: the UI hears of it (tokens.changed).
    tokenWatch: {},
  });
}

function onReady(): void {
  hardenSession(session.defaultSession, policy);
  session.defaultSession.protocol.handle(APP_SCHEME, function serveApp(request) {
    return serveAppRequest(RENDERER_ROOT, { url: request.url, method: request.method });
  });
  installMenu();
  router = createRouter();
  win = createMainWindow({ preloadPath: PRELOAD_PATH, production });
  disconnect = connectIpc(router, win);
  win.on('closed', function forgetWindow() {
    disconnect?.();
    disconnect = null;
    win = null;
  });
  void win.loadURL(policy.devServerUrl && devServerOrigin(policy) !== null ? policy.devServerUrl : APP_ENTRY_URL);
}

/** Locks the vault (zeroing its keys), clears a secret still on the clipboard, stops timers. Idempotent. */
function shutdown(): void {
  disconnect?.();
  disconnect = null;
  router?.dispose();
  router = null;
}

if (!app.requestSingleInstanceLock()) {
  // A second instance would open the same vault: the first one keeps it, and is focused instead.
  app.quit();
} else {
  installLockdown(app, policy);
  app.on('second-instance', function focusExisting() {
    if (!win) return;
    if (win.isMinimized()) win.restore();
    win.focus();
  });
  // A custody app quits with its last window, macOS included: nothing stays unlocked in the dock.
  app.on('window-all-closed', function quitWhenClosed() {
    app.quit();
  });
  app.on('before-quit', shutdown);
  app.on('will-quit', function finishClipboardThenQuit(event) {
    shutdown();
    // dispose() queued the clearing of a copied secret; let it reach the OS clipboard before the process ends.
    const pending = clip;
    clip = null;
    if (!pending) return;
    event.preventDefault();
    // Bounded: a clipboard owner that never answers must not keep the app from quitting.
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, QUIT_CLIPBOARD_WAIT_MS));
    void Promise.race([pending.settled(), timeout]).finally(function quitNow() {
      app.quit();
    });
  });
  // A failure in onReady (the router, the window) ends the app with a line on stderr, not a half-started shell.
  void app.whenReady().then(onReady).catch(function failedToStart(e: unknown) {
    process.stderr.write(`keyhold: main: could not start: ${e instanceof Error ? e.message : String(e)}\n`);
    shutdown();
    app.exit(1);
  });
}
