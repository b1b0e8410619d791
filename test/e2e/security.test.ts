/**
 * What the untrusted renderer cannot do: send a payload main has not agreed
 * to, call from a frame that is not the app's own main frame, reach Node, or
 * reach any network. Run against the built renderer under its real CSP.
 */
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IPC_METHODS } from '../../shared/ipc-names.js';
import { makeTmpDir, type TmpDir } from '../helpers/tmp.js';
import { App, APP_ORIGIN, electronMode, launchBrowser, OTHER_ORIGIN } from './app.js';
import type { Envelope, PageGlobal } from './page-types.js';

function codeOf(r: Envelope | undefined): string | undefined {
  return r && !r.ok ? r.error.code : undefined;
}

function messageOf(r: Envelope | undefined): string | undefined {
  return r && !r.ok ? r.error.message : undefined;
}


let browser: Browser | null = null;
let app: App;
let tmp: TmpDir;

beforeAll(async () => {
  if (!electronMode()) browser = await launchBrowser();
  tmp = makeTmpDir('keyhold-e2e-sec-');
  app = await App.launch(browser, {
    vaultPath: path.join(tmp.dir, 'vault.db'),
    otherPages: {
      // Another origin framing the app: the framed app is our origin, but not a main frame.
      '/frames-the-app.html': `<!doctype html><title>other</title><iframe src="${APP_ORIGIN}/index.html" title="Keyhold" width="960" height="520"></iframe>`,
    },
  });
  await app.createVault('correct horse battery staple');
  await app.waitForScreen('keys');
});

afterAll(async () => {
  await app?.close();
  await browser?.close();
  tmp?.remove();
});

describe('renderer security', () => {
  it('refuses bad payloads with a validation error naming the field', async () => {
    const results = await app.page.evaluate(async () => {
      const k = (globalThis as unknown as PageGlobal).keyhold!;
      return {
        wrongType: await k.keyCreate!({ name: 42, service: 'payments' }),
        extraField: await k.keyList!({ query: 'x', sql: 'DROP TABLE keys' }),
        badId: await k.keyReveal!({ id: '../../etc/passwd' }),
        choosesPath: await k.vaultUnlock!({ passphrase: 'whatever-long-enough', path: '/etc/shadow' }),
        notAnObject: await k.keyShow!('abc'),
      };
    });
    for (const [name, r] of Object.entries(results)) {
      expect(r.ok, name).toBe(false);
      expect(codeOf(r), name).toBe('INVALID_INPUT');
    }
    expect(messageOf(results.wrongType)).toMatch(/^ipc: key\.create: name: /);
    expect(messageOf(results.extraField)).toMatch(/unknown field/);
    expect(messageOf(results.badId)).toMatch(/id: the key id must be/);
    expect(messageOf(results.choosesPath)).toMatch(/unknown field/);
    // A valid request still works after all that.
    const status = await app.page.evaluate(() => (globalThis as unknown as PageGlobal).keyhold!.vaultStatus!());
    expect(status.ok && status.value.unlocked).toBe(true);
  });

  it.skipIf(electronMode())('refuses requests from a frame that is not the app\'s main frame', async () => {
    // The app's own CSP (frame-src 'none') keeps it from framing anything; a frame it tries to
    // make ends on an error page, and a call from there is refused as well.
    await app.page.evaluate((src) => {
      const d = (globalThis as unknown as PageGlobal).document;
      const f = d.createElement('iframe');
      f.src = src;
      d.body.append(f);
    }, `${APP_ORIGIN}/index.html`);
    await expect.poll(() => app.page.frames().length).toBe(2);
    const child = app.page.frames()[1]!;
    await child.waitForLoadState();
    const fromChild = await child.evaluate(() => (globalThis as unknown as PageGlobal).keyhold?.vaultStatus?.());
    expect(codeOf(fromChild)).toBe('IPC_FORBIDDEN');

    // Another origin, as a main frame and framing the app: both refused.
    const other = await app.page.context().newPage();
    try {
      await other.goto(`${OTHER_ORIGIN}/frames-the-app.html`);
      const fromOther = await other.evaluate(() => (globalThis as unknown as PageGlobal).keyhold!.vaultStatus!());
      expect(codeOf(fromOther)).toBe('IPC_FORBIDDEN');
      const framed = other.frames().find((f) => f.url().startsWith(APP_ORIGIN));
      expect(framed).toBeDefined();
      await framed!.waitForLoadState();
      const fromFramedApp = await framed!.evaluate(() => (globalThis as unknown as PageGlobal).keyhold!.keyList!({}));
      expect(codeOf(fromFramedApp)).toBe('IPC_FORBIDDEN');
      // The framed app got nothing: it shows its error screen (checked like every screen), not the keys.
      await framed!.waitForSelector('main[data-screen="error"]');
      expect(await framed!.locator('main').textContent()).toMatch(/could not start[\s\S]*IPC|refused/);
      await app.screenshot('14-error-refused-sender', other);
      expect((await app.axe(framed)).map((v) => `${v.id} (${v.impact}) at ${v.targets.join(' ')}`)).toEqual([]);
    } finally {
      await other.close();
    }
    // The refusals did not disturb the real window.
    expect((await app.page.evaluate(() => (globalThis as unknown as PageGlobal).keyhold!.vaultStatus!())).ok).toBe(true);
  });

  it('exposes no Node and nothing generic: only the named, frozen methods', async () => {
    const seen = await app.page.evaluate(() => {
      const g = globalThis as unknown as PageGlobal;
      const k = g.keyhold!;
      try {
        g.keyhold = {};
      } catch {
        // Strict-mode code throws on a read-only property; either way it must not change.
      }
      const replaced = g.keyhold !== k;
      return {
        require: typeof g.require,
        process: typeof g.process,
        module: typeof g.module,
        Buffer: typeof g.Buffer,
        ipcRenderer: typeof g.ipcRenderer,
        electron: typeof g.electron,
        methods: Object.keys(k).sort(),
        frozen: Object.isFrozen(k),
        replaced,
      };
    });
    expect(seen).toMatchObject({ require: 'undefined', process: 'undefined', module: 'undefined', Buffer: 'undefined',
      ipcRenderer: 'undefined', electron: 'undefined', frozen: true, replaced: false });
    expect(seen.methods).toEqual([...IPC_METHODS.map(([, m]) => m), 'on'].sort());
  });

  it('reaches no network: fetch, XHR, WebSocket, images and inline script are refused by the CSP', async () => {
    const before = app.requests.length;
    const r = await app.page.evaluate(async () => {
      const w = globalThis as unknown as PageGlobal;
      const out: Record<string, string> = {};
      const violations: string[] = [];
      w.document.addEventListener('securitypolicyviolation', (e) => violations.push(e.violatedDirective));
      for (const url of ['https://example.com/', 'http://127.0.0.1:9/', 'http://keyhold.localhost/index.html', 'data:text/plain,hi']) {
        try {
          await w.fetch(url);
          out[url] = 'fetched';
        } catch (e) {
          out[url] = (e as Error).name;
        }
      }
      out.xhr = await new Promise<string>((resolve) => {
        try {
          const x = new w.XMLHttpRequest();
          x.onload = () => resolve('loaded');
          x.onerror = () => resolve('error');
          x.open('GET', 'https://example.com/');
          x.send();
        } catch (e) {
          resolve((e as Error).name);
        }
      });
      try {
        const ws = new w.WebSocket('ws://127.0.0.1:9/');
        out.ws = await new Promise<string>((resolve) => {
          ws.onopen = () => resolve('open');
          ws.onerror = () => resolve('error');
        });
      } catch (e) {
        out.ws = (e as Error).name;
      }
      const img = new w.Image();
      out.img = await new Promise<string>((resolve) => {
        img.onload = () => resolve('loaded');
        img.onerror = () => resolve('error');
        img.src = 'https://example.com/pixel.png';
      });
      // Injected markup cannot run script: inline handlers and inline <script> are refused.
      w.document.body.insertAdjacentHTML('beforeend', '<img src="data:," onerror="window.__pwned = 1">');
      const s = w.document.createElement('script');
      s.textContent = 'window.__pwned2 = 1';
      w.document.body.append(s);
      await new Promise((res) => setTimeout(res, 100));
      out.inline = w.__pwned === undefined ? 'blocked' : 'ran';
      out.inlineScript = w.__pwned2 === undefined ? 'blocked' : 'ran';
      out.violations = [...new Set(violations)].sort().join(' ');
      return out;
    });
    expect(r['https://example.com/']).toBe('TypeError');
    expect(r['http://127.0.0.1:9/']).toBe('TypeError');
    expect(r['http://keyhold.localhost/index.html']).toBe('TypeError');
    expect(r['data:text/plain,hi']).toBe('TypeError');
    expect(r.xhr).toBe('error');
    expect(r.ws).not.toBe('open');
    expect(r.img).toBe('error');
    expect(r.inline).toBe('blocked');
    expect(r.inlineScript).toBe('blocked');
    expect(r.violations).toMatch(/connect-src/);
    expect(r.violations).toMatch(/img-src/);
    expect(r.violations).toMatch(/script-src/);
    // The CSP stopped them in the page: none of them even reached the harness's router of requests.
    expect(app.requests.slice(before).filter((u) => !u.startsWith(`${APP_ORIGIN}/assets/`))).toEqual([]);
  });
});
