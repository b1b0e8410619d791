/**
 * The main process's security decisions as small pure functions: which URL is
 * the app, which request may leave a session, which file an app:// URL names,
 * which headers an app response carries. No electron import, so the Node unit
 * tests (test/unit/main-policy.test.ts) check exactly what main enforces.
 */

import path from 'node:path';
import { strictFromEnv } from '../core/airgap.js';

/** The renderer is served from `app://keyhold/`, never file:// (file:// pages share one origin with every local file). */
export const APP_SCHEME = 'app';
export const APP_HOST = 'keyhold';
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;
export const APP_ENTRY_URL = `${APP_ORIGIN}/index.html`;

/**
 * Sent with every app:// response, beside the meta tag in renderer/index.html
 * (defence in depth: the header holds even for a response that is not the
 * page, and carries frame-ancestors, which a meta tag cannot). The same
 * directives as the meta tag plus frame-ancestors: both policies are enforced,
 * so a header stricter than the page expects would silently break it
 * (test/unit/main-policy.test.ts keeps the two in step).
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'none'",
  "frame-src 'none'",
  "worker-src 'none'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export type RequestPolicyOptions = Readonly<{
  /** An unpackaged build (`npm start`, `npm run dev`): devtools may load their own resources. */
  dev: boolean;
  /**
   * The electron-vite dev server (ELECTRON_RENDERER_URL) in `npm run dev` only;
   * honoured only when dev and on a loopback host.
   */
  devServerUrl?: string | undefined;
}>;

function parse(url: string): URL | null {
  try {
    return new URL(url);
  } catch {
    return null;
  }
}

/** True for a URL of the app's own origin (`app://keyhold/...`), nothing else. */
export function isAppUrl(url: string): boolean {
  const u = parse(url);
  return u !== null && u.protocol === `${APP_SCHEME}:` && u.host === APP_HOST && u.username === '' && u.password === '';
}

const LOOPBACK_HOSTS: ReadonlySet<string> = new Set(['localhost', '127.0.0.1', '[::1]']);

/** The dev server's origin when it may be used: dev, http(s) and loopback only; otherwise null. */
export function devServerOrigin(opts: RequestPolicyOptions): string | null {
  if (!opts.dev || !opts.devServerUrl) return null;
  const u = parse(opts.devServerUrl);
  if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:') || !LOOPBACK_HOSTS.has(u.hostname)) return null;
  return u.origin;
}

/**
 * Whether a session may perform a request. The workstation is air-gapped:
 * everything is cancelled except the app's own protocol, devtools' internal
 * pages in a dev build, and the loopback dev server (with its HMR socket) in
 * `npm run dev`.
 */
export function isAllowedRequest(url: string, opts: RequestPolicyOptions): boolean {
  if (isAppUrl(url)) return true;
  const u = parse(url);
  if (!u) return false;
  if (opts.dev && u.protocol === 'devtools:') return true;
  const dev = devServerOrigin(opts);
  if (dev !== null) {
    const asHttp = u.protocol === 'ws:' ? `http://${u.host}` : u.protocol === 'wss:' ? `https://${u.host}` : u.origin;
    if (asHttp === dev) return true;
  }
  return false;
}

/** Whether a page may be loaded in (navigated to by) a window: the app, or the dev server in `npm run dev`. */
export function isAllowedPageUrl(url: string, opts: RequestPolicyOptions): boolean {
  if (isAppUrl(url)) return true;
  const dev = devServerOrigin(opts);
  const u = parse(url);
  return dev !== null && u !== null && u.origin === dev;
}

/**
 * The file an app:// URL names inside `root` (out/renderer), or null when it
 * names none: another origin, an undecodable path, a NUL byte, a backslash
 * (a separator on Windows), a `..` segment (encoded or not), or anything that
 * resolves outside root. `/` is index.html. Query and fragment are ignored.
 */
export function resolveAppFile(root: string, url: string): string | null {
  if (!isAppUrl(url)) return null;
  const u = parse(url);
  if (!u) return null;
  let pathname: string;
  try {
    pathname = decodeURIComponent(u.pathname);
  } catch {
    return null;
  }
  if (pathname.includes('\0') || pathname.includes('\\')) return null;
  const segments = pathname.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.some((s) => s === '..' || /^[a-zA-Z]:$/.test(s))) return null;
  if (segments.length === 0) segments.push('index.html');
  const base = path.resolve(root);
  const file = path.resolve(base, ...segments);
  const rel = path.relative(base, file);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) return null;
  return file;
}

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

/** The Content-Type for a served file; unknown types are opaque bytes (nosniff keeps them so). */
export function contentTypeFor(file: string): string {
  return CONTENT_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
}

/** Headers for every app:// response, errors included. */
export function appResponseHeaders(contentType: string): Record<string, string> {
  return {
    'Content-Type': contentType,
    'Content-Security-Policy': CONTENT_SECURITY_POLICY,
    'X-Content-Type-Options': 'nosniff',
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Resource-Policy': 'same-origin',
    'Referrer-Policy': 'no-referrer',
    'Cache-Control': 'no-store',
  };
}

/** Keyboard shortcuts that reload the page or open devtools; refused in production builds. */
export type KeyInput = Readonly<{
  type: string;
  key: string;
  control: boolean;
  meta: boolean;
  shift: boolean;
  alt: boolean;
}>;

export function isReloadOrDevtoolsShortcut(input: KeyInput): boolean {
  if (input.type !== 'keyDown') return false;
  const key = input.key.toLowerCase();
  const mod = input.control || input.meta;
  if (key === 'f5' || key === 'f12' || key === 'browserrefresh') return true;
  if (mod && key === 'r') return true;
  // Ctrl+Shift+I / J / C and Cmd+Alt+I / J / C open devtools.
  if (mod && (input.shift || input.alt) && (key === 'i' || key === 'j' || key === 'c')) return true;
  return false;
}

/** Where the vault lives: KEYHOLD_VAULT when set, else vault.db in the app's user-data folder. */
export function resolveVaultPath(env: Readonly<Record<string, string | undefined>>, userDataDir: string): string {
  const fromEnv = env.KEYHOLD_VAULT?.trim();
  return fromEnv ? path.resolve(fromEnv) : path.join(userDataDir, 'vault.db');
}

/** Input events that mean a person is at the window (for auto-lock); hovering counts, as it does for a screen lock. */
const ACTIVITY_INPUTS: ReadonlySet<string> = new Set([
  'mouseDown', 'mouseMove', 'mouseWheel', 'rawKeyDown', 'keyDown', 'touchStart', 'gestureScrollBegin', 'pointerDown',
]);

export function isUserActivity(inputType: string): boolean {
  return ACTIVITY_INPUTS.has(inputType);
}

/**
 * Calls `notify` for user activity at most once per `intervalMs`: a mouse move
 * fires hundreds of input events, and restarting a timer for each is waste.
 */
export function activityThrottle(notify: () => void, intervalMs: number, now: () => number = Date.now): (inputType: string) => void {
  let last = Number.NEGATIVE_INFINITY;
  return function onInput(inputType: string): void {
    if (!isUserActivity(inputType)) return;
    const t = now();
    if (t - last < intervalMs) return;
    last = t;
    notify();
  };
}

export type ShellSettings = Readonly<{ autoLockMinutes: number; clipboardClearSeconds: number; airgapStrict?: boolean }>;

export const DEFAULT_SETTINGS: ShellSettings = Object.freeze({ autoLockMinutes: 5, clipboardClearSeconds: 30 });

function nonNegative(raw: string | undefined, fallback: number, max: number): number {
  if (raw === undefined || raw.trim() === '') return fallback;
  const n = Number(raw);
  return Number.isFinite(n) && n >= 0 && n <= max ? n : fallback;
}

/**
 * Auto-lock and clipboard-clear times: KEYHOLD_AUTO_LOCK_MINUTES (0 = off, at
 * most a day) and KEYHOLD_CLIPBOARD_CLEAR_SECONDS (0 = never, at most an hour);
 * anything unparsable keeps the default rather than turning protection off.
 * KEYHOLD_AIRGAP_STRICT (1, true, yes, on or strict) makes this workstation
 * refuse every unlock while a non-loopback interface is up, whatever the
 * vault says (a vault can ask for strict air gap too, never turn it off).
 */
export function resolveSettings(env: Readonly<Record<string, string | undefined>>): ShellSettings {
  const strict = strictFromEnv(env.KEYHOLD_AIRGAP_STRICT);
  return {
    autoLockMinutes: nonNegative(env.KEYHOLD_AUTO_LOCK_MINUTES, DEFAULT_SETTINGS.autoLockMinutes, 24 * 60),
    clipboardClearSeconds: nonNegative(env.KEYHOLD_CLIPBOARD_CLEAR_SECONDS, DEFAULT_SETTINGS.clipboardClearSeconds, 3600),
    ...(strict ? { airgapStrict: true } : {}),
  };
}
