/**
 * The one window. Every web preference that matters for security is spelled
 * out, including those whose default is already safe, so that a reviewer (and
 * Electronegativity) reads the intent here rather than in Electron's defaults.
 */

import { BrowserWindow } from 'electron';

export type MainWindowOptions = Readonly<{
  /** out/preload/index.cjs: one CommonJS file, as a sandboxed preload must be. */
  preloadPath: string;
  production: boolean;
}>;

export function createMainWindow(opts: MainWindowOptions): BrowserWindow {
  const win = new BrowserWindow({
    width: 1100,
    height: 760,
    minWidth: 720,
    minHeight: 520,
    show: false,
    title: 'Keyhold',
    backgroundColor: '#ffffff',
    autoHideMenuBar: opts.production,
    webPreferences: {
      preload: opts.preloadPath,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      experimentalFeatures: false,
      // Middle-click (auxclick) could open a link in a new window; nothing in the UI needs it.
      disableBlinkFeatures: 'Auxclick',
      navigateOnDragDrop: false,
      // The spellchecker fetches dictionaries from the network.
      spellcheck: false,
      safeDialogs: true,
      enableWebSQL: false,
      devTools: !opts.production,
    },
  });
  win.once('ready-to-show', function showWhenReady() {
    win.show();
  });
  return win;
}
