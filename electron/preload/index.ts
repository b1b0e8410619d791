/**
 * Preload: the only bridge between the sandboxed renderer and main. It exposes
 * one object, `window.keyhold`, and nothing generic (no ipcRenderer, no Node).
 */

import { contextBridge } from 'electron';

const api = Object.freeze({
  platform: process.platform,
});

contextBridge.exposeInMainWorld('keyhold', api);
