/**
 * The IPC router main registers (electron/main/router.ts), driven directly with
 * a real KeyholdService and vault file: sender checks, schema validation,
 * envelopes, paths the renderer cannot choose, auto-lock, clipboard clearing,
 * air-gap and progress events. The browser suites reach the same router
 * through the page.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isValidApiKey } from '../../shared/apikey.js';
import { COMMAND_NAMES, type Result } from '../../shared/contract.js';
import { FILE_HANDLE_FIELDS, ipcContract, type IpcEvent } from '../../shared/ipc.js';
import { IPC_COMMANDS, IPC_METHODS, isIpcCommandName, methodName } from '../../shared/ipc-names.js';
import { buildKeyholdApi } from '../../shared/ipc-bridge.js';
import type { IpcRouter, NetworkInterfaceAddress, SenderInfo } from '../../electron/main/router.js';
import { makeTestRouter } from '../helpers/router.js';
import { tmpDir } from '../helpers/tmp.js';

const ORIGIN = 'app://keyhold';
const ME: SenderInfo = { url: `${ORIGIN}/index.html`, isMainFrame: true };
const PASS = 'correct horse battery staple';

type Harness = { router: IpcRouter; clip: { text: string }; events: IpcEvent[]; vaultPath: string; setIfaces: (l: NetworkInterfaceAddress[]) => void };

function harness(settings = { autoLockMinutes: 5, clipboardClearSeconds: 30 }): Harness {
  const vaultPath = path.join(tmpDir('keyhold-router-'), 'vault.db');
  const t = makeTestRouter({
    vaultPath,
    allowedOrigins: [ORIGIN],
    settings,
    interfaces: [{ name: 'lo', family: 'IPv4', internal: true, address: '127.0.0.1' }],
  });
  return { router: t.router, clip: t.clipboard, events: t.events, vaultPath, setIfaces: t.setInterfaces };
}

async function ok<T = unknown>(p: Promise<Result<unknown>>): Promise<T> {
  const r = await p;
  if (!r.ok) throw new Error(`expected ok, got ${r.error.code}: ${r.error.message}`);
  return r.value as T;
}

async function err(p: Promise<Result<unknown>>): Promise<{ code: string; message: string; hint?: string }> {
  const r = await p;
  if (r.ok) throw new Error('expected an error envelope');
  return r.error;
}

function until(cond: () => boolean, ms = 5000): Promise<void> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const tick = (): void => {
      if (cond()) resolve();
      else if (Date.now() - t0 > ms) reject(new Error('timed out'));
      else setTimeout(tick, 20);
    };
    tick();
  });
}

describe('IPC names', () => {
  it('exposes core commands by name, none of them with a file path the renderer would choose', () => {
    const exposedCore = IPC_COMMANDS.filter((c) => (COMMAND_NAMES as readonly string[]).includes(c));
    expect(exposedCore).toContain('key.create');
    expect(isIpcCommandName('audit.export')).toBe(true);
    // Every exposed input is an object schema; a field that names a file takes a handle from a dialog main showed, never a path.
    const handleFields = FILE_HANDLE_FIELDS as Readonly<Record<string, { field: string }>>;
    for (const c of IPC_COMMANDS) {
      const schema = ipcContract[c].input as unknown as { shape?: Record<string, unknown>; options?: Array<{ shape?: Record<string, unknown> }> };
      const shapes = schema.shape ? [schema.shape] : (schema.options ?? []).map((o) => o.shape ?? {});
      expect(shapes.length, c).toBeGreaterThan(0);
      for (const shape of shapes) {
        const fileFields = Object.keys(shape).filter((k) => /^(path|out|file|dir|module|publicKey|publicKeyFile)$/i.test(k));
        expect(fileFields, c).toEqual(handleFields[c] ? [handleFields[c].field] : []);
        for (const f of fileFields) {
          expect((shape[f] as { safeParse: (x: unknown) => { success: boolean } }).safeParse('/tmp/chosen-by-the-page').success, `${c}.${f}`).toBe(false);
        }
      }
    }
    const notExposed = COMMAND_NAMES.filter((c) => !isIpcCommandName(c));
    console.log(`core commands not exposed over IPC: ${notExposed.join(', ')}`);
    expect(methodName('key.create')).toBe('keyCreate');
    expect(methodName('clipboard.copySecret')).toBe('clipboardCopySecret');
    const methods = IPC_METHODS.map(([, m]) => m);
    expect(new Set(methods).size).toBe(methods.length);
    expect(IPC_METHODS.every(([c, , ch]) => ch === `keyhold:${c}`)).toBe(true);
  });
});

describe('IPC router', () => {
  it('refuses other origins, subframes and malformed senders with IPC_FORBIDDEN, before reading the payload', async () => {
    const { router } = harness();
    for (const sender of [
      { url: 'https://evil.example/index.html', isMainFrame: true },
      { url: `${ORIGIN}/index.html`, isMainFrame: false },
      { url: 'file:///tmp/index.html', isMainFrame: true },
      { url: 'not a url', isMainFrame: true },
      { url: 'app://keyhold.evil/index.html', isMainFrame: true },
      null,
    ]) {
      const e = await err(router.handle('vault.status', sender as unknown as SenderInfo, {}));
      expect(e.code).toBe('IPC_FORBIDDEN');
    }
    router.dispose();
  });

  it('answers envelopes for unknown commands and bad payloads, naming the field but never the value', async () => {
    const { router } = harness();
    expect((await err(router.handle('fs.readFile', ME, {}))).code).toBe('INVALID_INPUT');
    expect((await err(router.handle('audit.export', ME, { out: '/tmp/x' }))).message).toMatch(/file handle is not one main gave/);
    expect((await err(router.handle('__proto__', ME, {}))).code).toBe('INVALID_INPUT');
    const e = await err(router.handle('vault.create', ME, { passphrase: 'pw-short' }));
    expect(e.code).toBe('INVALID_INPUT');
    expect(e.message).toContain('passphrase');
    expect(e.message).not.toContain('pw-short');
    // The renderer may not choose the vault path: the field is unknown over IPC.
    const p = await err(router.handle('vault.unlock', ME, { passphrase: PASS, path: '/etc/passwd' }));
    expect(p.message).toMatch(/unknown field/);
    expect((await err(router.handle('key.create', ME, 'not an object'))).code).toBe('INVALID_INPUT');
    expect((await err(router.handle('key.list', ME, {}))).code).toBe('VAULT_LOCKED');
    router.dispose();
  });

  it('creates the vault at the configured path, runs core commands, and locks with a user event', async () => {
    const h = harness();
    const env = await ok<{ vault: { path: string; exists: boolean } }>(h.router.handle('app.environment', ME, {}));
    expect(env.vault).toEqual({ path: h.vaultPath, exists: false });
    const info = await ok<{ path: string }>(h.router.handle('vault.create', ME, { passphrase: PASS }));
    expect(info.path).toBe(h.vaultPath);
    expect(fs.existsSync(h.vaultPath)).toBe(true);
    const key = await ok<{ id: string; environment: string }>(h.router.handle('key.create', ME, { name: 'checkout', service: 'payments' }));
    expect(key.environment).toBe('production');
    const list = await ok<unknown[]>(h.router.handle('key.list', ME, {}));
    expect(list).toHaveLength(1);
    await ok(h.router.handle('vault.lock', ME, {}));
    expect(h.events.filter((e) => e.name === 'vault.locked')).toEqual([{ name: 'vault.locked', payload: { reason: 'user' } }]);
    expect((await err(h.router.handle('vault.unlock', ME, { passphrase: 'wrong passphrase!' }))).code).toBe('WRONG_PASSPHRASE');
    await ok(h.router.handle('vault.unlock', ME, { passphrase: PASS }));
    h.router.dispose();
  });

  it('copies a secret to the clipboard without returning it, audits it, and clears it only if unchanged', async () => {
    const h = harness({ autoLockMinutes: 5, clipboardClearSeconds: 0.3 });
    await ok(h.router.handle('vault.create', ME, { passphrase: PASS }));
    const key = await ok<{ id: string }>(h.router.handle('key.create', ME, { name: 'a', service: 's' }));
    const r = await ok<Record<string, unknown>>(h.router.handle('clipboard.copySecret', ME, { id: key.id }));
    expect(r).toEqual({ copied: true, clearAfterSeconds: 0.3 });
    expect(isValidApiKey(h.clip.text)).toBe(true);
    expect(JSON.stringify(r).includes(h.clip.text), 'secret in the answer').toBe(false);
    const audit = await ok<{ entries: Array<{ action: string }> }>(h.router.handle('audit.list', ME, { key: key.id }));
    expect(audit.entries.map((e) => e.action)).toContain('key.reveal');
    await until(() => h.clip.text === '');

    // Copied, then the user copies something else: that is left alone.
    await ok(h.router.handle('clipboard.copySecret', ME, { id: key.id }));
    h.clip.text = 'something the user copied';
    await new Promise((res) => setTimeout(res, 500));
    expect(h.clip.text).toBe('something the user copied');

    // Locking clears a secret still on the clipboard.
    const h2 = harness({ autoLockMinutes: 5, clipboardClearSeconds: 600 });
    await ok(h2.router.handle('vault.create', ME, { passphrase: PASS }));
    const k2 = await ok<{ id: string }>(h2.router.handle('key.create', ME, { name: 'b', service: 's' }));
    await ok(h2.router.handle('clipboard.copySecret', ME, { id: k2.id }));
    expect(isValidApiKey(h2.clip.text)).toBe(true);
    await ok(h2.router.handle('vault.lock', ME, {}));
    expect(h2.clip.text).toBe('');
    h.router.dispose();
    h2.router.dispose();
  });

  it('locks itself after the idle time and says so; activity and commands push the deadline back', async () => {
    const h = harness({ autoLockMinutes: 0.01, clipboardClearSeconds: 30 }); // 600 ms
    await ok(h.router.handle('vault.create', ME, { passphrase: PASS }));
    // Activity every 200 ms for 1.2 s keeps it open.
    for (let i = 0; i < 6; i++) {
      await new Promise((res) => setTimeout(res, 200));
      h.router.notifyActivity();
    }
    expect((await ok<{ unlocked: boolean }>(h.router.handle('vault.status', ME, {}))).unlocked).toBe(true);
    // vault.status is passive: polling it does not keep the vault open.
    await until(() => h.events.some((e) => e.name === 'vault.locked'), 3000);
    expect(h.events.find((e) => e.name === 'vault.locked')?.payload).toEqual({ reason: 'idle' });
    expect((await ok<{ unlocked: boolean }>(h.router.handle('vault.status', ME, {}))).unlocked).toBe(false);
    h.router.dispose();
  });

  it('reports the air gap and its changes, and progress of long work', async () => {
    const h = harness();
    const env = await ok<{ airgap: { isolated: boolean } }>(h.router.handle('app.environment', ME, {}));
    expect(env.airgap.isolated).toBe(true);
    h.setIfaces([
      { name: 'lo', family: 'IPv4', internal: true, address: '127.0.0.1' },
      { name: 'eth0', family: 'IPv4', internal: false, address: '10.0.0.5' },
    ]);
    const status = h.router.checkAirgap();
    expect(status).toEqual({ isolated: false, interfaces: [{ name: 'eth0', family: 'IPv4', address: '10.0.0.5' }] });
    expect(h.events.at(-1)).toEqual({ name: 'airgap.changed', payload: status });
    h.router.checkAirgap();
    expect(h.events.filter((e) => e.name === 'airgap.changed')).toHaveLength(1);

    await ok(h.router.handle('vault.create', ME, { passphrase: PASS }));
    for (const name of ['a', 'b', 'c']) await ok(h.router.handle('key.create', ME, { name, service: 's' }));
    await ok(h.router.handle('key.rotate', ME, { all: true }));
    const progress = h.events.filter((e) => e.name === 'progress');
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.at(-1)?.payload).toMatchObject({ command: 'key.rotate', done: 3, total: 3 });
    h.router.dispose();
  });

  it('never throws and writes nothing to the console or the process streams, whatever it is handed', async () => {
    const h = harness();
    const written: string[] = [];
    const restore: Array<() => void> = [];
    // Captured (not forwarded) for the length of the test, then the originals are put back as they were.
    for (const target of [process.stdout, process.stderr, console] as unknown as Array<Record<string, unknown>>) {
      const names = target === (console as unknown) ? ['log', 'info', 'warn', 'error', 'debug'] : ['write'];
      for (const name of names) {
        const own = Object.getOwnPropertyDescriptor(target, name);
        target[name] = (...args: unknown[]) => {
          written.push(args.map(String).join(' '));
          return true;
        };
        restore.push(() => {
          if (own) Object.defineProperty(target, name, own);
          else delete target[name];
        });
      }
    }
    let secret = '';
    try {
      const hostile = new Proxy({}, { ownKeys() { throw new Error('boom'); }, get() { throw new Error('boom'); } });
      const r1 = await h.router.handle('key.list', ME, hostile);
      expect(r1.ok).toBe(false);
      await ok(h.router.handle('vault.create', ME, { passphrase: PASS }));
      await err(h.router.handle('vault.unlock', ME, { passphrase: 'a wrong passphrase' }));
      await ok(h.router.handle('vault.unlock', ME, { passphrase: PASS }));
      const key = await ok<{ id: string }>(h.router.handle('key.create', ME, { name: 'n', service: 's' }));
      secret = (await ok<{ secret: string }>(h.router.handle('key.reveal', ME, { id: key.id }))).secret;
      await ok(h.router.handle('clipboard.copySecret', ME, { id: key.id }));
      await h.router.handle(42 as unknown as string, ME, undefined);
    } finally {
      for (const r of restore.reverse()) r();
      h.router.dispose();
    }
    expect(isValidApiKey(secret)).toBe(true);
    // Counts, not the text: a failure message must not print what leaked.
    expect(written.filter((w) => w.includes(PASS) || w.includes('a wrong passphrase') || w.includes(secret)).length, 'secret or passphrase written').toBe(0);
    expect(written.length, 'lines written').toBe(0);
  });

  it('drives the same window.keyhold the preload builds, and runs commands one at a time', async () => {
    const h = harness();
    const api = buildKeyholdApi(
      (channel, payload) => h.router.handle(channel.slice('keyhold:'.length), ME, payload),
      () => () => undefined,
    );
    expect(Object.isFrozen(api)).toBe(true);
    expect(typeof api.keyCreate).toBe('function');
    // Two unlock-like calls racing must not leave a vault open that nothing references.
    const [a, b] = await Promise.all([api.vaultCreate({ passphrase: PASS }), api.vaultStatus()]);
    expect(a.ok).toBe(true);
    expect(b.ok && b.value.unlocked).toBe(true);
    const r = await api.keyCreate({ name: 'x', service: 'y', scopes: ['read', 'read'] });
    expect(r.ok || r.error.message).toMatch(/scopes/);
    h.router.dispose();
    const after = await api.vaultStatus();
    expect(after.ok).toBe(false);
  });

  it('shows file dialogs in main and hands the renderer single-use handles, never taking a path from it', async () => {
    const vaultPath = path.join(tmpDir('keyhold-router-'), 'vault.db');
    const t = makeTestRouter({ vaultPath, allowedOrigins: [ORIGIN] });
    const dir = tmpDir('keyhold-dialogs-');
    try {
      await ok(t.router.handle('vault.create', ME, { passphrase: PASS }));
      // Cancelled: nothing to use.
      expect(await ok(t.router.handle('dialog.save', ME, { purpose: 'audit', suggestedName: 'audit.jsonl' }))).toEqual({ cancelled: true });
      expect(t.dialogs.requests[0]).toMatchObject({ purpose: 'audit', defaultName: 'audit.jsonl' });
      // A name that walks out of the folder main suggests in is refused before any dialog.
      expect((await err(t.router.handle('dialog.save', ME, { purpose: 'audit', suggestedName: '../x.jsonl' }))).code).toBe('INVALID_INPUT');
      expect(t.dialogs.requests).toHaveLength(1);

      const out = path.join(dir, 'audit.jsonl');
      t.dialogs.answers.push(out);
      const chosen = await ok<{ cancelled: false; handle: string; path: string; name: string }>(
        t.router.handle('dialog.save', ME, { purpose: 'audit', suggestedName: 'audit.jsonl' }));
      expect(chosen).toMatchObject({ cancelled: false, path: out, name: 'audit.jsonl' });
      // A save handle does not open a file for reading (recipient.add wants an open handle).
      expect((await err(t.router.handle('recipient.add', ME, { name: 'srv', publicKeyFile: chosen.handle }))).message)
        .toMatch(/no longer known/);
      const exported = await ok<{ path: string; entries: number }>(t.router.handle('audit.export', ME, { out: chosen.handle }));
      expect(exported.path).toBe(out);
      // keyhold-audit/v1: a header line, then one line per entry.
      expect(fs.readFileSync(out, 'utf8').trim().split('\n')).toHaveLength(exported.entries + 1);
      // A file that exists (or the vault itself) is refused when chosen, before any work: nothing is ever replaced.
      for (const existing of [out, vaultPath]) {
        t.dialogs.answers.push(existing);
        expect((await err(t.router.handle('dialog.save', ME, { purpose: 'audit', suggestedName: 'audit.jsonl' }))).code).toBe('FILE_EXISTS');
      }
      // Spent: the same handle cannot write a second file.
      expect((await err(t.router.handle('audit.export', ME, { out: chosen.handle }))).message).toMatch(/no longer known/);
      // A well-formed handle main never gave is refused too.
      expect((await err(t.router.handle('audit.export', ME, { out: `fh_${'A'.repeat(22)}` }))).message).toMatch(/no longer known/);

      // An open dialog for a public key: main reads the file; a file that is not a JSON object is refused by name.
      const bad = path.join(dir, 'not-a-key.json');
      fs.writeFileSync(bad, '[1, 2]');
      t.dialogs.answers.push(bad);
      const opened = await ok<{ handle: string }>(t.router.handle('dialog.open', ME, { purpose: 'public-key' }));
      const e = await err(t.router.handle('recipient.add', ME, { name: 'srv', publicKeyFile: opened.handle }));
      expect(e.code).toBe('INVALID_INPUT');
      expect(e.message).toContain('not-a-key.json');
    } finally {
      t.router.dispose();
    }
  });
});
