import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveAppRequest } from '../../electron/main/app-protocol.js';
import {
  APP_ENTRY_URL,
  DEFAULT_SETTINGS,
  activityThrottle,
  isUserActivity,
  resolveSettings,
  CONTENT_SECURITY_POLICY,
  appResponseHeaders,
  contentTypeFor,
  devServerOrigin,
  isAllowedPageUrl,
  isAllowedRequest,
  isAppUrl,
  isReloadOrDevtoolsShortcut,
  resolveAppFile,
  resolveVaultPath,
} from '../../electron/main/policy.js';
import { makeTmpDir, type TmpDir } from '../helpers/tmp.js';

const PROD = { dev: false } as const;
const DEV = { dev: true } as const;

describe('isAppUrl', () => {
  it('accepts only the app origin', () => {
    expect(isAppUrl(APP_ENTRY_URL)).toBe(true);
    expect(isAppUrl('app://keyhold/assets/index-abc.js?x=1#y')).toBe(true);
    expect(isAppUrl('app://keyhold')).toBe(true);
  });

  it.each([
    'app://evil/index.html',
    'app://keyhold.evil/index.html',
    'app://user:pw@keyhold/index.html',
    'file:///etc/passwd',
    'https://keyhold/index.html',
    'http://localhost:5173/',
    'APP:/keyhold',
    'keyhold',
    '',
    'about:blank',
    'data:text/html,<script>1</script>',
  ])('refuses %s', (url) => {
    expect(isAppUrl(url)).toBe(false);
  });
});

describe('isAllowedRequest', () => {
  it('lets the app protocol through', () => {
    expect(isAllowedRequest('app://keyhold/index.html', PROD)).toBe(true);
    expect(isAllowedRequest('app://keyhold/assets/a.css', PROD)).toBe(true);
  });

  it.each([
    'https://example.com/',
    'http://127.0.0.1:8080/',
    'ws://localhost:5173/',
    'file:///etc/passwd',
    'ftp://example.com/',
    'devtools://devtools/bundled/inspector.html',
    'chrome-extension://abc/x.js',
    'app://other/index.html',
    'not a url',
  ])('cancels %s in production', (url) => {
    expect(isAllowedRequest(url, PROD)).toBe(false);
  });

  it('allows devtools only in a dev build', () => {
    expect(isAllowedRequest('devtools://devtools/bundled/inspector.html', DEV)).toBe(true);
    expect(isAllowedRequest('devtools://devtools/bundled/inspector.html', PROD)).toBe(false);
  });

  it('allows the loopback dev server (and its HMR socket) only in dev', () => {
    const opts = { dev: true, devServerUrl: 'http://localhost:5173/' };
    expect(isAllowedRequest('http://localhost:5173/src/main.tsx', opts)).toBe(true);
    expect(isAllowedRequest('ws://localhost:5173/', opts)).toBe(true);
    expect(isAllowedRequest('http://localhost:5174/', opts)).toBe(false);
    expect(isAllowedRequest('https://example.com/', opts)).toBe(false);
    expect(isAllowedRequest('http://localhost:5173/src/main.tsx', { dev: false, devServerUrl: 'http://localhost:5173/' })).toBe(false);
  });

  it('never treats a non-loopback dev server as one', () => {
    expect(devServerOrigin({ dev: true, devServerUrl: 'http://example.com:5173/' })).toBeNull();
    expect(devServerOrigin({ dev: true, devServerUrl: 'file:///tmp/x' })).toBeNull();
    expect(devServerOrigin({ dev: true, devServerUrl: 'nonsense' })).toBeNull();
    expect(devServerOrigin({ dev: true, devServerUrl: 'http://127.0.0.1:5173' })).toBe('http://127.0.0.1:5173');
    expect(isAllowedRequest('http://example.com:5173/', { dev: true, devServerUrl: 'http://example.com:5173/' })).toBe(false);
  });
});

describe('isAllowedPageUrl', () => {
  it('allows the app, and the dev server only in dev', () => {
    expect(isAllowedPageUrl(APP_ENTRY_URL, PROD)).toBe(true);
    expect(isAllowedPageUrl('https://example.com/', PROD)).toBe(false);
    expect(isAllowedPageUrl('file:///tmp/index.html', PROD)).toBe(false);
    expect(isAllowedPageUrl('http://localhost:5173/', { dev: true, devServerUrl: 'http://localhost:5173' })).toBe(true);
    expect(isAllowedPageUrl('http://localhost:5173/', { dev: false, devServerUrl: 'http://localhost:5173' })).toBe(false);
  });
});

describe('resolveAppFile', () => {
  const root = path.resolve('/srv/keyhold/out/renderer');

  it('maps app URLs to files inside root', () => {
    expect(resolveAppFile(root, 'app://keyhold/')).toBe(path.join(root, 'index.html'));
    expect(resolveAppFile(root, 'app://keyhold')).toBe(path.join(root, 'index.html'));
    expect(resolveAppFile(root, 'app://keyhold/index.html?x=1#/keys')).toBe(path.join(root, 'index.html'));
    expect(resolveAppFile(root, 'app://keyhold/assets/index-abc.js')).toBe(path.join(root, 'assets', 'index-abc.js'));
    expect(resolveAppFile(root, 'app://keyhold/assets/./a%20b.css')).toBe(path.join(root, 'assets', 'a b.css'));
  });

  it('clamps dot segments the URL parser resolves at the root, as a browser does', () => {
    expect(resolveAppFile(root, 'app://keyhold/../../etc/passwd')).toBe(path.join(root, 'etc', 'passwd'));
    expect(resolveAppFile(root, 'app://keyhold/%2e%2e/%2E%2e/etc/passwd')).toBe(path.join(root, 'etc', 'passwd'));
  });

  it.each([
    'app://keyhold/assets/..%2f..%2f..%2fetc%2fpasswd',
    'app://keyhold/..%5c..%5cwindows%5cwin.ini',
    'app://keyhold/assets%5c..%5c..%5csecret',
    'app://keyhold/%2e%2e%2fsecret',
    'app://keyhold/index.html%00.png',
    'app://keyhold/%E0%A4%A',
    'app://keyhold/C:/Windows/win.ini',
    'app://other/index.html',
    'file:///etc/passwd',
    'https://keyhold/index.html',
  ])('refuses %s', (url) => {
    expect(resolveAppFile(root, url)).toBeNull();
  });

  it('never returns a path outside root, whatever the input', () => {
    const parts = ['..', '%2e%2e', '%2E%2E', '.', '%2f', '%5c', 'a', '%00', '//', '%252e%252e'];
    for (const a of parts) for (const b of parts) for (const c of parts) {
      const file = resolveAppFile(root, `app://keyhold/${a}/${b}/${c}`);
      if (file !== null) {
        const rel = path.relative(root, file);
        expect(rel.startsWith('..') || path.isAbsolute(rel) || rel === '').toBe(false);
      }
    }
  });
});

describe('response headers', () => {
  it('carry the CSP of the meta tag in renderer/index.html, plus frame-ancestors', () => {
    const html = fs.readFileSync(path.resolve(import.meta.dirname, '../../renderer/index.html'), 'utf8');
    const meta = /http-equiv="Content-Security-Policy"\s+content="([^"]+)"/.exec(html)?.[1];
    expect(meta).toBeDefined();
    const directives = (csp: string) => new Map(csp.split(';').map((d) => d.trim()).filter(Boolean)
      .map((d) => [d.split(/\s+/)[0]!, d.split(/\s+/).slice(1).join(' ')] as const));
    const header = directives(CONTENT_SECURITY_POLICY);
    const page = directives(meta!);
    page.set('frame-ancestors', "'none'");
    expect(Object.fromEntries(header)).toEqual(Object.fromEntries(page));
    expect(header.get('default-src')).toBe("'self'");
    expect(header.get('script-src')).toBe("'self'");
    const headers = appResponseHeaders('text/html');
    expect(headers['Content-Security-Policy']).toBe(CONTENT_SECURITY_POLICY);
    expect(headers['X-Content-Type-Options']).toBe('nosniff');
  });

  it('name content types, unknown ones as opaque bytes', () => {
    expect(contentTypeFor('/x/index.html')).toMatch(/^text\/html/);
    expect(contentTypeFor('/x/a.JS')).toMatch(/^text\/javascript/);
    expect(contentTypeFor('/x/a.css')).toMatch(/^text\/css/);
    expect(contentTypeFor('/x/a.exe')).toBe('application/octet-stream');
  });
});

describe('isReloadOrDevtoolsShortcut', () => {
  const key = (k: string, mods: Partial<{ control: boolean; meta: boolean; shift: boolean; alt: boolean }> = {}, type = 'keyDown') =>
    ({ type, key: k, control: false, meta: false, shift: false, alt: false, ...mods });

  it.each([
    key('F5'), key('F12'), key('r', { control: true }), key('R', { control: true, shift: true }), key('r', { meta: true }),
    key('I', { control: true, shift: true }), key('i', { meta: true, alt: true }), key('J', { control: true, shift: true }),
    key('BrowserRefresh'),
  ])('refuses %o', (input) => {
    expect(isReloadOrDevtoolsShortcut(input)).toBe(true);
  });

  it.each([
    key('r'), key('c', { control: true }), key('v', { meta: true }), key('a', { control: true }), key('F5', {}, 'keyUp'),
    key('Enter'), key('i', { control: true }),
  ])('lets %o through', (input) => {
    expect(isReloadOrDevtoolsShortcut(input)).toBe(false);
  });
});

describe('resolveVaultPath', () => {
  it('defaults to vault.db in user data, KEYHOLD_VAULT overrides', () => {
    expect(resolveVaultPath({}, '/home/u/.config/Keyhold')).toBe(path.join('/home/u/.config/Keyhold', 'vault.db'));
    expect(resolveVaultPath({ KEYHOLD_VAULT: '  ' }, '/d')).toBe(path.join('/d', 'vault.db'));
    expect(resolveVaultPath({ KEYHOLD_VAULT: '/media/usb/v.db' }, '/d')).toBe(path.resolve('/media/usb/v.db'));
  });
});

describe('serveAppRequest (real files)', () => {
  let tmp: TmpDir;
  let dir: string;
  let root: string;

  beforeAll(() => {
    tmp = makeTmpDir('keyhold-protocol-');
    dir = tmp.dir;
    root = path.join(dir, 'renderer');
    fs.mkdirSync(path.join(root, 'assets'), { recursive: true });
    fs.writeFileSync(path.join(root, 'index.html'), '<!doctype html><title>k</title>');
    fs.writeFileSync(path.join(root, 'assets', 'app.js'), 'console.log(1)');
    fs.writeFileSync(path.join(dir, 'secret.txt'), 'outside');
    fs.symlinkSync(path.join(dir, 'secret.txt'), path.join(root, 'assets', 'link.js'));
  });

  afterAll(() => tmp.remove());

  it('serves index.html for / with the CSP header', async () => {
    const res = await serveAppRequest(root, { url: 'app://keyhold/', method: 'GET' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY);
    expect(await res.text()).toContain('<title>k</title>');
  });

  it('serves assets with their type, HEAD without a body', async () => {
    const res = await serveAppRequest(root, { url: 'app://keyhold/assets/app.js', method: 'GET' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(await res.text()).toBe('console.log(1)');
    const head = await serveAppRequest(root, { url: 'app://keyhold/assets/app.js', method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe('14');
    expect(await head.text()).toBe('');
  });

  it('refuses traversal, other methods, folders, missing files and links out of root', async () => {
    const statusOf = async (url: string, method = 'GET') => (await serveAppRequest(root, { url, method })).status;
    // The URL parser clamps this one at the root: root/secret.txt, which does not exist.
    expect(await statusOf('app://keyhold/%2e%2e/secret.txt')).toBe(404);
    expect(await statusOf('app://keyhold/assets/..%2f..%2fsecret.txt')).toBe(403);
    expect(await statusOf('app://keyhold/assets/link.js')).toBe(403);
    expect(await statusOf('app://keyhold/assets')).toBe(404);
    expect(await statusOf('app://keyhold/nope.js')).toBe(404);
    expect(await statusOf('app://keyhold/index.html', 'POST')).toBe(405);
    const refused = await serveAppRequest(root, { url: 'app://keyhold/../secret.txt', method: 'GET' });
    expect(await refused.text()).not.toContain('outside');
    expect(refused.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY);
  });
});

describe('activityThrottle', () => {
  it('reports user input at most once per interval, ignores other events', () => {
    let t = 0;
    let calls = 0;
    const onInput = activityThrottle(() => { calls += 1; }, 1000, () => t);
    onInput('mouseMove');
    onInput('mouseMove');
    onInput('keyDown');
    expect(calls).toBe(1);
    t = 999;
    onInput('keyDown');
    expect(calls).toBe(1);
    t = 1000;
    onInput('mouseUp');
    onInput('mouseEnter');
    expect(calls).toBe(1);
    onInput('mouseDown');
    expect(calls).toBe(2);
    expect(isUserActivity('keyDown')).toBe(true);
    expect(isUserActivity('mouseLeave')).toBe(false);
  });
});

describe('resolveSettings', () => {
  it('reads the environment, keeps the defaults for anything unparsable', () => {
    expect(resolveSettings({})).toEqual(DEFAULT_SETTINGS);
    expect(resolveSettings({ KEYHOLD_AUTO_LOCK_MINUTES: '10', KEYHOLD_CLIPBOARD_CLEAR_SECONDS: '0' }))
      .toEqual({ autoLockMinutes: 10, clipboardClearSeconds: 0 });
    expect(resolveSettings({ KEYHOLD_AUTO_LOCK_MINUTES: '-1', KEYHOLD_CLIPBOARD_CLEAR_SECONDS: 'soon' })).toEqual(DEFAULT_SETTINGS);
    expect(resolveSettings({ KEYHOLD_AUTO_LOCK_MINUTES: 'Infinity', KEYHOLD_CLIPBOARD_CLEAR_SECONDS: '86400' })).toEqual(DEFAULT_SETTINGS);
  });
});
