/**
 * Lockdown of every session and every web contents the app ever has: the
 * default session, any created later (`session-created`), every window,
 * webview or devtools contents (`web-contents-created`). The decisions are in
 * policy.ts (pure, unit-tested); this file only attaches them to Electron.
 */

import { type App, type Session, type WebContents } from 'electron';
import { isAllowedPageUrl, isAllowedRequest, isReloadOrDevtoolsShortcut, type RequestPolicyOptions } from './policy.js';

const hardenedSessions = new WeakSet<Session>();
const hardenedContents = new WeakSet<WebContents>();

/**
 * Cancels every request but the app's own (air gap), refuses every permission,
 * device chooser, display capture and download. Idempotent.
 */
export function hardenSession(ses: Session, opts: RequestPolicyOptions): void {
  if (hardenedSessions.has(ses)) return;
  hardenedSessions.add(ses);

  ses.webRequest.onBeforeRequest(function blockNetwork(details, callback) {
    callback({ cancel: !isAllowedRequest(details.url, opts) });
  });
  ses.setPermissionRequestHandler(function denyPermissionRequest(_contents, _permission, callback) {
    callback(false);
  });
  // Without a check handler, some permissions (clipboard-read, media queries of
  // devices) are answered "granted" synchronously without a request.
  ses.setPermissionCheckHandler(function denyPermissionCheck() {
    return false;
  });
  ses.setDevicePermissionHandler(function denyDevicePermission() {
    return false;
  });
  ses.setDisplayMediaRequestHandler(function denyDisplayMedia(_request, callback) {
    callback(null);
  });
  // WebHID, WebSerial and WebUSB choosers: the renderer never talks to a device
  // (PKCS#11 tokens are main's), so every chooser is answered with nothing.
  ses.on('select-hid-device', function refuseHidDevice(event, _details, callback) {
    event.preventDefault();
    callback(null);
  });
  ses.on('select-serial-port', function refuseSerialPort(event, _ports, _contents, callback) {
    event.preventDefault();
    callback('');
  });
  ses.on('select-usb-device', function refuseUsbDevice(event, _details, callback) {
    event.preventDefault();
    callback();
  });
  ses.on('will-download', function refuseDownload(event) {
    event.preventDefault();
  });
  // Chromium's spellchecker downloads dictionaries from Google: off, offline.
  ses.setSpellCheckerEnabled(false);
}

export type ContentsPolicy = RequestPolicyOptions & Readonly<{
  /** Production build: reload and devtools shortcuts are swallowed, devtools closed if they open. */
  production: boolean;
}>;

/** Denies navigation, new windows, webviews and (in production) reloads and devtools. Idempotent. */
export function hardenWebContents(contents: WebContents, policy: ContentsPolicy): void {
  if (hardenedContents.has(contents)) return;
  hardenedContents.add(contents);

  contents.setWindowOpenHandler(function denyWindowOpen() {
    return { action: 'deny' };
  });
  // In-page navigation (hash routes) fires none of these; a real navigation is
  // refused unless it reloads the app itself (a dev reload).
  contents.on('will-navigate', function denyNavigation(event) {
    if (!isAllowedPageUrl(event.url, policy)) event.preventDefault();
  });
  contents.on('will-frame-navigate', function denyFrameNavigation(event) {
    if (!isAllowedPageUrl(event.url, policy)) event.preventDefault();
  });
  contents.on('will-redirect', function denyRedirect(event) {
    if (!isAllowedPageUrl(event.url, policy)) event.preventDefault();
  });
  contents.on('will-attach-webview', function denyWebview(event) {
    event.preventDefault();
  });
  if (policy.production) {
    contents.on('before-input-event', function swallowReloadAndDevtools(event, input) {
      if (isReloadOrDevtoolsShortcut(input)) event.preventDefault();
    });
    contents.on('devtools-opened', function closeDevtools() {
      contents.closeDevTools();
    });
  }
}

/** Applies the lockdown to what exists now and to everything created later. Call before ready. */
export function installLockdown(app: App, policy: ContentsPolicy): void {
  app.on('session-created', function onSessionCreated(ses) {
    hardenSession(ses, policy);
  });
  app.on('web-contents-created', function onWebContentsCreated(_event, contents) {
    hardenWebContents(contents, policy);
    hardenSession(contents.session, policy);
  });
}
