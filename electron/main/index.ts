/**
 * Electron main process: lifecycle, the window and its lockdown. Thin on
 * purpose: custody logic lives in electron/core, which never imports electron.
 */

import { join } from 'node:path';
import { app, BrowserWindow, session } from 'electron';

function lockDownSession(): void {
  const ses = session.defaultSession;
  // The workstation is air-gapped: no request leaves the app, whatever asks for it.
  ses.webRequest.onBeforeRequest(function blockNetwork(details, callback) {
    const url = details.url;
    callback({ cancel: !(url.startsWith('file://') || url.startsWith('devtools://')) });
  });
  ses.setPermissionRequestHandler(function denyPermission(_wc, _permission, callback) {
    callback(false);
  });
  ses.setPermissionCheckHandler(function denyPermissionCheck() {
    return false;
  });
}

function createWindow(): BrowserWindow {
  const win = new BrowserWindow({
    width: 1100,
    height: 760,
    show: false,
    title: 'Keyhold',
    webPreferences: {
      preload: join(import.meta.dirname, '../preload/index.cjs'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webSecurity: true,
      devTools: !app.isPackaged,
    },
  });
  win.webContents.setWindowOpenHandler(function denyWindowOpen() {
    return { action: 'deny' };
  });
  win.webContents.on('will-navigate', function denyNavigation(event) {
    event.preventDefault();
  });
  win.webContents.on('will-attach-webview', function denyWebview(event) {
    event.preventDefault();
  });
  win.once('ready-to-show', function showWindow() {
    win.show();
  });
  void win.loadFile(join(import.meta.dirname, '../renderer/index.html'));
  return win;
}

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  app.on('web-contents-created', function hardenContents(_e, contents) {
    contents.setWindowOpenHandler(function denyAll() {
      return { action: 'deny' };
    });
  });
  void app.whenReady().then(function onReady() {
    lockDownSession();
    createWindow();
  });
  app.on('window-all-closed', function quitWhenClosed() {
    app.quit();
  });
}
