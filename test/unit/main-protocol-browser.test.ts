/**
 * The app:// server in a real browser: Debian's Chromium loads the built
 * renderer (out/renderer) through serveAppRequest, so the page runs under both
 * the meta-tag CSP and main's header CSP, as it does in Electron. Chromium
 * cannot route a custom scheme, so the page's origin here is
 * http://keyhold.localhost, mapped onto app://keyhold/ request by request.
 */
import fs from 'node:fs';
import path from 'node:path';
import { type Browser, chromium, type Route } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveAppRequest } from '../../electron/main/app-protocol.js';
import { APP_ORIGIN } from '../../electron/main/policy.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const RENDERER = path.join(ROOT, 'out/renderer');
const PAGE_ORIGIN = 'http://keyhold.localhost';
const OTHER_ORIGIN = 'http://other.localhost';

let browser: Browser;

beforeAll(async () => {
  if (!fs.existsSync(path.join(RENDERER, 'index.html'))) {
    throw new Error('out/renderer/index.html is missing: run `npx electron-vite build` first (npm test does)');
  }
  browser = await chromium.launch({ executablePath: process.env.KEYHOLD_CHROMIUM ?? '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] });
});

afterAll(async () => {
  await browser?.close();
});

/**
 * Serves keyhold.localhost from serveAppRequest, other.localhost from `other`,
 * and aborts everything else. `metaOnly` drops main's CSP header, leaving the
 * page's own meta tag: the baseline the header is compared with.
 */
async function serve(route: Route, other: Record<string, string>, metaOnly = false): Promise<void> {
  const url = new URL(route.request().url());
  if (url.origin === PAGE_ORIGIN) {
    const res = await serveAppRequest(RENDERER, { url: `${APP_ORIGIN}${url.pathname}${url.search}`, method: route.request().method() });
    const headers: Record<string, string> = {};
    res.headers.forEach((value, key) => {
      if (!(metaOnly && key === 'content-security-policy')) headers[key] = value;
    });
    await route.fulfill({ status: res.status, headers, body: Buffer.from(await res.arrayBuffer()) });
    return;
  }
  const html = url.origin === OTHER_ORIGIN ? other[url.pathname] : undefined;
  if (html !== undefined) {
    await route.fulfill({ status: 200, contentType: 'text/html', body: html });
    return;
  }
  await route.abort();
}

describe('app:// server in Chromium', () => {
  /** Loads the app, waits for React to mount, returns the CSP violations the page reported. */
  async function load(metaOnly: boolean): Promise<{ violations: string[]; csp: string | undefined }> {
    const context = await browser.newContext();
    await context.route('**/*', (route) => serve(route, {}, metaOnly));
    const page = await context.newPage();
    const violations: string[] = [];
    page.on('console', (m) => {
      if (m.text().startsWith('CSP violation:')) violations.push(m.text());
    });
    // Page-side code as strings: this project's Node tsconfig has no DOM types.
    await page.addInitScript({
      content: `document.addEventListener('securitypolicyviolation', (e) => {
        console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI);
      });`,
    });
    const response = await page.goto(`${PAGE_ORIGIN}/`);
    expect(response?.status()).toBe(200);
    // React mounted something into #root: the module script and its stylesheet were allowed.
    await page.waitForFunction("(document.getElementById('root')?.childElementCount ?? 0) > 0", undefined, { timeout: 15_000 });
    await page.waitForTimeout(300);
    const csp = response?.headers()['content-security-policy'];
    await context.close();
    // Two policies refusing the same thing report it once each: compare which things were refused.
    return { violations: [...new Set(violations)].sort(), csp };
  }

  it('the built renderer runs under the header CSP, which blocks nothing the meta CSP allows', async () => {
    const meta = await load(true);
    const both = await load(false);
    expect(meta.csp).toBeUndefined();
    expect(both.csp).toContain("frame-ancestors 'none'");
    // Whatever the page's own policy already refuses (zod's eval probe, caught by zod) is refused
    // alike; the header adds no violation of its own.
    expect(both.violations).toEqual(meta.violations);
    expect(both.violations.filter((v) => !v.includes(' eval'))).toEqual([]);
  });

  /** Whether a page of another origin that frames the app ends up with the app's root element in its frame. */
  async function framed(metaOnly: boolean): Promise<boolean> {
    const context = await browser.newContext();
    const other = { '/frame.html': `<!doctype html><iframe id="f" src="${PAGE_ORIGIN}/"></iframe>` };
    await context.route('**/*', (route) => serve(route, other, metaOnly));
    const page = await context.newPage();
    await page.goto(`${OTHER_ORIGIN}/frame.html`);
    const frame = await (await page.waitForSelector('#f')).contentFrame();
    await page.waitForTimeout(1000);
    // A blocked frame shows Chromium's error page, never the app's root element.
    const hasRoot = frame ? await frame.evaluate<boolean>("document.getElementById('root') !== null").catch(() => false) : false;
    await context.close();
    return hasRoot;
  }

  it('another origin cannot frame the app: frame-ancestors, which only the header carries', async () => {
    expect(await framed(true)).toBe(true);
    expect(await framed(false)).toBe(false);
  });

  it('a path outside the renderer folder is refused in the browser too', async () => {
    const context = await browser.newContext();
    await context.route('**/*', (route) => serve(route, {}));
    const page = await context.newPage();
    const res = await page.goto(`${PAGE_ORIGIN}/assets/..%2f..%2f..%2fpackage.json`);
    expect(res?.status()).toBe(403);
    expect(await page.content()).not.toContain('"name": "keyhold"');
    await context.close();
  });
});
