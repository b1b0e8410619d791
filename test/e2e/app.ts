/**
 * The end-to-end harness: an `App` that drives Keyhold's built renderer
 * (out/renderer) in a real browser, with explicit wait-for methods, in one of
 * two modes:
 *
 * - browser (default): Debian's Chromium through playwright-core, headless.
 *   The page is served from out/renderer at http://keyhold.localhost/ by a
 *   Playwright route, so it runs under its own CSP (the meta tag in
 *   index.html) exactly as built. `window.keyhold` is built by the same
 *   buildKeyholdApi (shared/ipc-bridge.ts) the preload uses, over a test bridge
 *   that stands in for Electron IPC: a Playwright binding that calls the very
 *   router main registers (electron/main/router.ts) with the calling frame's
 *   URL and whether it is the main frame, a real KeyholdService and a real
 *   vault file. Router events are delivered into the page as the preload's
 *   ipcRenderer listeners would.
 * - electron (KEYHOLD_E2E_ELECTRON=1): the real app through playwright-core's
 *   _electron.launch, where an Electron binary exists (ELECTRON_PATH, or
 *   node_modules/electron/dist). There is none on these machines (its download
 *   fails), so that mode is skipped here; `electronBinary()` says why.
 *
 * Nothing here mocks the core.
 */

import fs from 'node:fs';
import path from 'node:path';
import { buildSync } from 'esbuild';
import { expect } from 'vitest';
import { type Browser, type BrowserContext, chromium, type ElectronApplication, type Frame, type Page, type Route } from 'playwright-core';
import type { AppSettings, IpcEvent } from '../../shared/ipc.js';
import { eventChannel } from '../../shared/ipc-names.js';
import type { DialogRequest, IpcRouter, IpcRouterOptions, NetworkInterfaceAddress } from '../../electron/main/router.js';
import { makeTestRouter } from '../helpers/router.js';

export const ROOT = path.resolve(import.meta.dirname, '../..');
export const RENDERER_DIR = path.join(ROOT, 'out/renderer');
export const SCREENSHOT_DIR = path.join(ROOT, 'test/e2e/screenshots');
export const APP_ORIGIN = 'http://keyhold.localhost';
/** Another origin the route serves, for the sender tests. */
export const OTHER_ORIGIN = 'http://other.localhost';

const CHROMIUM = process.env.KEYHOLD_CHROMIUM ?? '/usr/bin/chromium';
const BINDING = '__keyholdTestIpc';
const DELIVER = '__keyholdTestDeliver';

export type Screen = 'loading' | 'error' | 'create-vault' | 'unlock' | 'keys' | 'create-key' | 'sign-in' | 'operators';

export type AppOptions = Readonly<{
  vaultPath: string;
  settings?: Partial<AppSettings>;
  /** The network interfaces the router sees; loopback only (air-gapped) by default. */
  interfaces?: readonly NetworkInterfaceAddress[];
  /** Extra pages the route serves at OTHER_ORIGIN (path -> HTML), for the sender tests. */
  otherPages?: Readonly<Record<string, string>>;
  /** Browser mode: more router options (a token module for the service, token hotplug polling). */
  router?: Readonly<Pick<IpcRouterOptions, 'service' | 'tokenWatch'>>;
  /** Browser mode: told the name of every command the page calls, before the router runs it. */
  onCall?: (command: string) => void;
}>;

export const LOOPBACK_ONLY: readonly NetworkInterfaceAddress[] = [
  { name: 'lo', family: 'IPv4', internal: true, address: '127.0.0.1' },
  { name: 'lo', family: 'IPv6', internal: true, address: '::1' },
];

export const DEFAULT_SETTINGS: AppSettings = { autoLockMinutes: 5, clipboardClearSeconds: 30 };

export type AxeViolation = Readonly<{ id: string; impact: string | null; help: string; targets: string[] }>;

/** Fails with every serious or critical axe-core violation found on a screen (recordMatrix tags each with its variant). */
export function expectAccessible(screen: string, violations: ReadonlyArray<AxeViolation & { variant?: string }>): void {
  expect(violations.map((v) => `${screen}${v.variant ? ` ${v.variant}` : ''}: ${v.id} (${v.impact}) ${v.help} at ${v.targets.slice(0, 3).join(' ')}`))
    .toEqual([]);
}

/** Shared by every App of a test file: one browser per file. */
export async function launchBrowser(): Promise<Browser> {
  if (!fs.existsSync(path.join(RENDERER_DIR, 'index.html'))) {
    throw new Error(`e2e: ${RENDERER_DIR}/index.html is missing: run \`npx electron-vite build\` first (npm test does)`);
  }
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
}

/** The Electron binary to run, or the reason there is none (never downloads one). */
export function electronBinary(): { path: string } | { missing: string } {
  const fromEnv = process.env.ELECTRON_PATH;
  if (fromEnv) return fs.existsSync(fromEnv) ? { path: fromEnv } : { missing: `ELECTRON_PATH=${fromEnv} does not exist` };
  // Read node_modules/electron/path.txt ourselves: require('electron') would try to download the binary.
  const dir = path.join(ROOT, 'node_modules/electron');
  const pathTxt = path.join(dir, 'path.txt');
  if (!fs.existsSync(pathTxt)) return { missing: 'node_modules/electron has no binary (installed with ELECTRON_SKIP_BINARY_DOWNLOAD)' };
  const exe = path.join(dir, 'dist', fs.readFileSync(pathTxt, 'utf8').trim());
  return fs.existsSync(exe) ? { path: exe } : { missing: `${exe} does not exist` };
}

export function electronMode(): boolean {
  return process.env.KEYHOLD_E2E_ELECTRON === '1';
}

let bridgeScript: string | null = null;

/**
 * The page-side half of the test bridge, bundled from shared/ipc-bridge.ts so
 * the page gets the same window.keyhold the preload builds. The binding plays
 * ipcRenderer.invoke; DELIVER plays ipcRenderer.on's dispatch.
 */
function pageBridge(): string {
  if (bridgeScript !== null) return bridgeScript;
  const entry = `
    import { buildKeyholdApi } from './shared/ipc-bridge';
    const listeners = new Map();
    // JSON both ways: Playwright's own argument serialization is far slower than JSON for
    // 100,000-key answers (Electron's structured clone has no such cost).
    const invoke = async (channel, payload) => JSON.parse(await globalThis[${JSON.stringify(BINDING)}](channel, JSON.stringify(payload)));
    function subscribe(channel, listener) {
      let set = listeners.get(channel);
      if (!set) listeners.set(channel, (set = new Set()));
      const entry = { listener };
      set.add(entry);
      return () => set.delete(entry);
    }
    Object.defineProperty(globalThis, ${JSON.stringify(DELIVER)}, {
      value(channel, payload) { for (const e of [...(listeners.get(channel) ?? [])]) e.listener(payload); },
    });
    // contextBridge.exposeInMainWorld makes a read-only, non-configurable property; so does this.
    Object.defineProperty(globalThis, 'keyhold', { value: buildKeyholdApi(invoke, subscribe), enumerable: true });
  `;
  const out = buildSync({
    stdin: { contents: entry, resolveDir: ROOT, loader: 'ts', sourcefile: 'e2e-bridge.ts' },
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'chrome120',
    write: false,
    logLevel: 'silent',
  });
  bridgeScript = out.outputFiles[0]!.text;
  return bridgeScript;
}

const MIME: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
};

let axeSource: string | null = null;

export class App {
  readonly page: Page;
  /** The router behind window.keyhold (browser mode); in Electron mode it lives in main. */
  readonly router: IpcRouter | null;
  /** The in-memory clipboard the router writes (browser mode). */
  readonly clipboard: { text: string };
  /** Every URL the page asked for, served or refused. */
  readonly requests: string[];
  /** Every router event, in order. */
  readonly events: IpcEvent[];
  /** The file dialogs main would show (browser mode): answers queued by answerDialog, requests made. */
  readonly dialogs: { answers: (string | null)[]; requests: DialogRequest[] };
  #electron: ElectronApplication | null = null;
  readonly #close: () => Promise<void>;

  private constructor(
    page: Page,
    router: IpcRouter | null,
    clipboard: { text: string },
    requests: string[],
    events: IpcEvent[],
    close: () => Promise<void>,
    dialogs: { answers: (string | null)[]; requests: DialogRequest[] } = { answers: [], requests: [] },
  ) {
    this.dialogs = dialogs;
    this.page = page;
    this.router = router;
    this.clipboard = clipboard;
    this.requests = requests;
    this.events = events;
    this.#close = close;
  }

  /** Starts the app in the selected mode and waits for its first screen. */
  static async launch(browser: Browser | null, opts: AppOptions): Promise<App> {
    const app = electronMode() ? await App.#launchElectron(opts) : await App.#launchBrowser(browser, opts);
    await app.page.waitForSelector('main[data-screen]:not([data-screen="loading"])');
    return app;
  }

  static async #launchBrowser(browser: Browser | null, opts: AppOptions): Promise<App> {
    if (!browser) throw new Error('e2e: browser mode needs a browser from launchBrowser()');
    const requests: string[] = [];
    const { router, clipboard, events, setInterfaces, dialogs } = makeTestRouter({
      vaultPath: opts.vaultPath,
      allowedOrigins: [APP_ORIGIN],
      settings: { ...DEFAULT_SETTINGS, ...opts.settings },
      interfaces: opts.interfaces ?? LOOPBACK_ONLY,
      ...opts.router,
    });
    const context: BrowserContext = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await context.route('**/*', function serve(route) {
      return serveRoute(route, requests, opts.otherPages ?? {});
    });
    await context.exposeBinding(BINDING, async function ipcBinding(source, channel: unknown, payloadJson: unknown) {
      // What Electron's event.senderFrame gives main: the calling frame's URL and whether it is the top frame.
      const command = typeof channel === 'string' && channel.startsWith('keyhold:') ? channel.slice('keyhold:'.length) : String(channel);
      let payload: unknown;
      try {
        payload = typeof payloadJson === 'string' ? JSON.parse(payloadJson) : payloadJson;
      } catch {
        payload = payloadJson;
      }
      opts.onCall?.(command);
      const result = await router.handle(command, { url: source.frame.url(), isMainFrame: source.frame.parentFrame() === null }, payload);
      return JSON.stringify(result);
    });
    await context.addInitScript({ content: pageBridge() });
    const page = await context.newPage();
    router.onEvent(function deliverEvent(e) {
      for (const p of context.pages()) {
        p.evaluate(([fn, ch, payload]) => (globalThis as unknown as Record<string, (c: string, p: unknown) => void>)[fn]?.(ch, payload),
          [DELIVER, eventChannel(e.name), e.payload] as const).catch(() => undefined);
      }
    });
    await page.goto(`${APP_ORIGIN}/index.html`);
    const app = new App(page, router, clipboard, requests, events, async () => {
      router.dispose();
      await context.close();
    }, dialogs);
    app.setInterfaces = (list) => {
      setInterfaces(list);
      router.checkAirgap();
    };
    return app;
  }

  static async #launchElectron(opts: AppOptions): Promise<App> {
    const bin = electronBinary();
    if ('missing' in bin) throw new Error(`e2e: no Electron binary: ${bin.missing}`);
    // Main loads its native modules built for Electron's ABI from out/main/node_modules (build/start.mjs);
    // a plain build (npm run build, npm run e2e) empties out/main, and the Node builds would crash there.
    if (!fs.existsSync(path.join(ROOT, 'out/main/node_modules/.keyhold-electron-natives.json'))) {
      throw new Error('e2e: out/main has no native modules built for Electron: run `node build/start.mjs --prepare-only` after the build');
    }
    const { _electron } = await import('playwright-core');
    const settings = { ...DEFAULT_SETTINGS, ...opts.settings };
    // Main reads its vault path and settings from these (electron/main/policy.ts). A vault created
    // there uses the calibrated Argon2id cost, so the create step is slower than in browser mode.
    const electronApp: ElectronApplication = await _electron.launch({
      executablePath: bin.path,
      args: [path.join(ROOT, 'out/main/index.js')],
      env: {
        ...process.env,
        KEYHOLD_VAULT: opts.vaultPath,
        KEYHOLD_AUTO_LOCK_MINUTES: String(settings.autoLockMinutes),
        KEYHOLD_CLIPBOARD_CLEAR_SECONDS: String(settings.clipboardClearSeconds),
      },
    });
    const page = await electronApp.firstWindow();
    const app = new App(page, null, { text: '' }, [], [], () => electronApp.close());
    app.#electron = electronApp;
    return app;
  }

  /** Browser mode: changes what os.networkInterfaces() reports, and re-reads it (as main's poll does). */
  setInterfaces: (list: readonly NetworkInterfaceAddress[]) => void = () => {
    throw new Error('e2e: interfaces can only be set in browser mode');
  };

  async close(): Promise<void> {
    await this.#close();
  }

  // ---- waits -----------------------------------------------------------------

  /**
   * Answers the next file dialog as the user would: the path chosen, or null
   * to cancel. Browser mode queues it for the router's dialog; Electron mode
   * replaces Electron's dialog functions in main for the next call.
   */
  async answerDialog(answer: string | null): Promise<void> {
    if (this.#electron) {
      await this.#electron.evaluate(({ dialog }, chosen) => {
        const once = <T>(result: T) => () => Promise.resolve(result);
        dialog.showSaveDialog = once(chosen === null ? { canceled: true, filePath: '' } : { canceled: false, filePath: chosen });
        dialog.showOpenDialog = once(chosen === null ? { canceled: true, filePaths: [] } : { canceled: false, filePaths: [chosen] });
      }, answer);
      return;
    }
    this.dialogs.answers.push(answer);
  }

  async waitForScreen(screen: Screen, timeout = 15_000): Promise<void> {
    await this.page.waitForSelector(`main[data-screen="${screen}"]`, { timeout });
  }

  /** The data-testid of the focused element, if any. */
  async focusedTestId(): Promise<string | null> {
    const focused = this.page.locator('*:focus');
    return (await focused.count()) > 0 ? focused.first().getAttribute('data-testid') : null;
  }

  async screenName(): Promise<string | null> {
    return this.page.locator('main[data-screen]').getAttribute('data-screen');
  }

  /** Waits until the list shows `n` keys after filtering. */
  async waitForKeyCount(n: number, timeout = 15_000): Promise<void> {
    if (n === 0) {
      await this.page.waitForSelector('[data-testid="no-match"], [data-testid="empty-vault"]', { timeout });
      return;
    }
    await this.page.waitForSelector(`[data-testid="key-count"][data-count="${n}"]`, { timeout });
  }

  async waitForAnnouncement(text: string | RegExp, timeout = 10_000): Promise<void> {
    await this.page.getByTestId('announcer').filter({ hasText: text }).waitFor({ timeout });
  }

  // ---- actions ---------------------------------------------------------------

  async createVault(passphrase: string, confirm = passphrase): Promise<void> {
    await this.page.getByTestId('new-passphrase').fill(passphrase);
    await this.page.getByTestId('confirm-passphrase').fill(confirm);
    await this.page.getByTestId('create-vault').click();
  }

  /** Types the passphrase and submits with the keyboard. */
  async unlock(passphrase: string): Promise<void> {
    const field = this.page.getByTestId('passphrase');
    await field.fill(passphrase);
    await field.press('Enter');
  }

  async openCreateKey(): Promise<void> {
    await this.page.getByTestId('new-key').or(this.page.getByRole('button', { name: 'Create the first key' })).first().click();
    await this.waitForScreen('create-key');
  }

  async fillKeyForm(k: Readonly<{ name: string; service: string; environment?: string; scopes?: string }>): Promise<void> {
    await this.page.getByTestId('field-name').fill(k.name);
    await this.page.getByTestId('field-service').fill(k.service);
    await this.page.getByTestId('field-environment').fill(k.environment ?? 'production');
    await this.page.getByTestId('field-scopes').fill(k.scopes ?? '');
  }

  /** Creates a key through the form and waits for the list to show it selected. */
  async createKey(k: Readonly<{ name: string; service: string; environment?: string; scopes?: string }>): Promise<void> {
    await this.openCreateKey();
    await this.fillKeyForm(k);
    await this.page.getByTestId('submit-key').click();
    await this.waitForScreen('keys');
    await this.page.locator('[data-testid="key-detail"] h2', { hasText: k.name }).waitFor();
  }

  async search(text: string): Promise<void> {
    await this.page.getByTestId('search').fill(text);
  }

  async filterBy(which: 'service' | 'environment' | 'state', value: string): Promise<void> {
    await this.page.getByTestId(`filter-${which}`).selectOption(value);
  }

  /** The names of the rows rendered in the list (the virtual window, not every match). */
  async visibleKeyNames(): Promise<string[]> {
    return this.page.locator('[role="option"] .name').allTextContents();
  }

  async openKey(name: string): Promise<void> {
    await this.page.getByRole('option').filter({ hasText: name }).first().click();
    await this.page.locator('[data-testid="key-detail"] h2', { hasText: name }).waitFor();
  }

  /** Reveals the open key's secret and returns it (callers assert its format; never print it). */
  async reveal(): Promise<string> {
    await this.page.getByTestId('reveal').click();
    const secret = this.page.getByTestId('secret');
    await secret.waitFor();
    return (await secret.textContent()) ?? '';
  }

  async lock(): Promise<void> {
    await this.page.getByTestId('lock').click();
    await this.waitForScreen('unlock');
  }

  // ---- evidence --------------------------------------------------------------

  async screenshot(name: string, target: Page = this.page): Promise<string> {
    fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
    const file = path.join(SCREENSHOT_DIR, `${name}.png`);
    // A revealed secret is painted over: screenshots are test output, and no secret goes there.
    await target.screenshot({ path: file, fullPage: true, mask: [target.locator('[data-testid="secret"]')] });
    return file;
  }

  /**
   * Runs axe-core on the page and returns the serious and critical violations.
   * axe is evaluated through the DevTools protocol, which the page's CSP does
   * not govern (an injected <script> would be refused by script-src 'self').
   */
  async axe(target: Page | Frame = this.page): Promise<AxeViolation[]> {
    axeSource ??= fs.readFileSync(path.join(ROOT, 'node_modules/axe-core/axe.min.js'), 'utf8');
    const loaded = await target.evaluate(() => typeof (globalThis as { axe?: unknown }).axe !== 'undefined');
    if (!loaded) await target.evaluate(axeSource);
    const results = await target.evaluate(async () => {
      const axe = (globalThis as unknown as { axe: { run: (ctx: unknown, opts: unknown) => Promise<{ violations: Array<{ id: string; impact: string | null; help: string; nodes: Array<{ target: unknown[] }> }> }> } }).axe;
      const r = await axe.run((globalThis as unknown as { document: unknown }).document, {
        runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
        // Only violations are read; not collecting passes makes each run several times cheaper.
        resultTypes: ['violations'],
      });
      return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => JSON.stringify(n.target)) }));
    });
    return results.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  }

  /** Screenshot and accessibility check of the current screen, in one step. */
  async record(name: string): Promise<AxeViolation[]> {
    await this.screenshot(name);
    return this.axe();
  }

  /**
   * The current screen in light and dark, at 1280 and 760 px wide: four
   * screenshots (`<name>-light-1280.png` ...) and axe-core in each; returns
   * every serious or critical violation, tagged with the variant. The page is
   * left at 1280 px in the light scheme.
   */
  async recordMatrix(name: string): Promise<Array<AxeViolation & { variant: string }>> {
    const found: Array<AxeViolation & { variant: string }> = [];
    const height = this.page.viewportSize()?.height ?? 900;
    for (const scheme of ['light', 'dark'] as const) {
      await this.page.emulateMedia({ colorScheme: scheme });
      for (const width of [1280, 760]) {
        await this.page.setViewportSize({ width, height });
        const variant = `${scheme}-${width}`;
        await this.screenshot(`${name}-${variant}`);
        for (const v of await this.axe()) found.push({ ...v, variant });
      }
    }
    await this.page.emulateMedia({ colorScheme: 'light' });
    await this.page.setViewportSize({ width: 1280, height });
    return found;
  }
}

async function serveRoute(route: Route, requests: string[], otherPages: Readonly<Record<string, string>>): Promise<void> {
  const href = route.request().url();
  requests.push(href);
  let url: URL;
  try {
    url = new URL(href);
  } catch {
    return route.abort('blockedbyclient');
  }
  if (url.origin === APP_ORIGIN) {
    const rel = decodeURIComponent(url.pathname === '/' ? '/index.html' : url.pathname);
    const file = path.resolve(RENDERER_DIR, `.${rel}`);
    if (!file.startsWith(RENDERER_DIR + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      return route.fulfill({ status: 404, body: 'not found' });
    }
    return route.fulfill({
      status: 200,
      contentType: MIME[path.extname(file)] ?? 'application/octet-stream',
      body: fs.readFileSync(file),
    });
  }
  const other = url.origin === OTHER_ORIGIN ? otherPages[url.pathname] : undefined;
  if (other !== undefined) return route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body: other });
  // Nothing else exists: the workstation is offline.
  return route.abort('blockedbyclient');
}
