/**
 * The vault's custody settings as the IPC router applies them: strict air gap
 * refuses an unlock while a non-loopback interface is up (the vault's setting
 * after the unlock, the workstation's before it) and locks a strict vault when
 * an interface comes up; the vault's auto-lock minutes and clipboard clearing
 * seconds replace the workstation's while it is unlocked, and only then.
 * The real router over a real vault file (test/helpers/router.ts).
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SETTING_ROWS } from '../../electron/core/settings.js';
import { resolveSettings } from '../../electron/main/policy.js';
import type { NetworkInterfaceAddress } from '../../electron/main/router.js';
import type { Result } from '../../shared/contract.js';
import type { AppSettings } from '../../shared/ipc.js';
import { isValidApiKey } from '../../shared/apikey.js';
import { makeTestRouter, TEST_SENDER as ME, type TestRouter } from '../helpers/router.js';
import { tmpDir } from '../helpers/tmp.js';

const PASS = 'correct horse battery staple';
const LOOPBACK: NetworkInterfaceAddress[] = [
  { name: 'lo', family: 'IPv4', internal: true, address: '127.0.0.1' },
  { name: 'lo', family: 'IPv6', internal: true, address: '::1' },
];
const UP: NetworkInterfaceAddress[] = [...LOOPBACK, { name: 'eth0', family: 'IPv4', internal: false, address: '192.0.2.10' }];

function harness(settings: AppSettings = { autoLockMinutes: 5, clipboardClearSeconds: 30 }): TestRouter & { vaultPath: string } {
  const vaultPath = path.join(tmpDir('keyhold-settings-router-'), 'vault.db');
  return { ...makeTestRouter({ vaultPath, settings, interfaces: LOOPBACK }), vaultPath };
}

function setInterfaces(h: TestRouter, list: NetworkInterfaceAddress[]): void {
  h.setInterfaces(list);
  h.router.checkAirgap();
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

const unlocked = async (h: TestRouter): Promise<boolean> =>
  (await ok<{ unlocked: boolean }>(h.router.handle('vault.status', ME, {}))).unlocked;
const inForce = async (h: TestRouter): Promise<AppSettings> =>
  (await ok<{ settings: AppSettings }>(h.router.handle('app.environment', ME, {}))).settings;

afterEach(() => {
  vi.useRealTimers();
});

describe('strict air gap', () => {
  it('a strict vault refuses to unlock with an interface up, and unlocks with loopback only', async () => {
    const h = harness();
    await ok(h.router.handle('vault.create', ME, { passphrase: PASS }));
    await ok(h.router.handle('settings.set', ME, { airgapStrict: true }));
    expect((await inForce(h)).airgapStrict).toBe(true);
    await ok(h.router.handle('vault.lock', ME, {}));
    expect((await inForce(h)).airgapStrict).toBe(false);

    setInterfaces(h, UP);
    const refused = await err(h.router.handle('vault.unlock', ME, { passphrase: PASS }));
    expect(refused.code).toBe('AIRGAP_REQUIRED');
    expect(refused.message).toContain('eth0');
    expect(refused.message).not.toContain(PASS);
    expect(refused.hint).toMatch(/Disconnect the network/);
    expect(refused.hint).not.toMatch(/keyhold |--/);
    expect(await unlocked(h)).toBe(false);
    // Locked again at once: nothing of the vault's answers.
    expect((await err(h.router.handle('key.list', ME, {}))).code).toBe('VAULT_LOCKED');
    expect((await inForce(h)).airgapStrict).toBe(false);

    setInterfaces(h, LOOPBACK);
    await ok(h.router.handle('vault.unlock', ME, { passphrase: PASS }));
    expect(await unlocked(h)).toBe(true);
    expect((await inForce(h)).airgapStrict).toBe(true);
    h.router.dispose();
  });

  it('locks a strict vault when an interface comes up (reason airgap); a vault that is not strict stays open', async () => {
    const h = harness();
    await ok(h.router.handle('vault.create', ME, { passphrase: PASS }));
    setInterfaces(h, UP);
    await new Promise((r) => setTimeout(r, 50));
    expect(await unlocked(h)).toBe(true);
    expect(h.events.some((e) => e.name === 'vault.locked')).toBe(false);

    // Turning strict on while connected is refused (it would lock at once), and nothing is written.
    const turnOn = await err(h.router.handle('settings.set', ME, { airgapStrict: true }));
    expect(turnOn.code).toBe('AIRGAP_REQUIRED');
    expect((await ok<{ airgapStrict: boolean | null }>(h.router.handle('settings.show', ME, {}))).airgapStrict).toBe(null);

    setInterfaces(h, LOOPBACK);
    await ok(h.router.handle('settings.set', ME, { airgapStrict: true }));
    setInterfaces(h, UP);
    await vi.waitFor(() => expect(h.events.some((e) => e.name === 'vault.locked')).toBe(true));
    expect(h.events.find((e) => e.name === 'vault.locked')?.payload).toEqual({ reason: 'airgap' });
    expect(await unlocked(h)).toBe(false);
    h.router.dispose();
  });

  it('a workstation is strict with KEYHOLD_AIRGAP_STRICT set to a yes, and only then', () => {
    for (const v of ['1', 'true', 'yes', 'on', 'strict', ' STRICT ']) expect(resolveSettings({ KEYHOLD_AIRGAP_STRICT: v }).airgapStrict, v).toBe(true);
    for (const v of [undefined, '', '0', 'false', 'off', 'no', 'maybe']) {
      expect(resolveSettings({ KEYHOLD_AIRGAP_STRICT: v }).airgapStrict, String(v)).toBeUndefined();
    }
  });

  it('a strict workstation refuses unlock and create before any passphrase is tried', async () => {
    const h = harness({ autoLockMinutes: 5, clipboardClearSeconds: 30, airgapStrict: true });
    setInterfaces(h, UP);
    expect((await err(h.router.handle('vault.create', ME, { passphrase: PASS }))).code).toBe('AIRGAP_REQUIRED');
    setInterfaces(h, LOOPBACK);
    await ok(h.router.handle('vault.create', ME, { passphrase: PASS }));
    // The vault cannot turn the workstation's strict air gap off.
    await ok(h.router.handle('settings.set', ME, { airgapStrict: false }));
    expect((await inForce(h)).airgapStrict).toBe(true);
    await ok(h.router.handle('vault.lock', ME, {}));

    setInterfaces(h, UP);
    // A wrong passphrase gets the same answer: refused before the passphrase is used.
    expect((await err(h.router.handle('vault.unlock', ME, { passphrase: 'not the passphrase at all' }))).code).toBe('AIRGAP_REQUIRED');
    expect((await err(h.router.handle('vault.unlock', ME, { passphrase: PASS }))).code).toBe('AIRGAP_REQUIRED');
    expect(await unlocked(h)).toBe(false);
    setInterfaces(h, LOOPBACK);
    await ok(h.router.handle('vault.unlock', ME, { passphrase: PASS }));
    h.router.dispose();
  });

  it('assumes strict air gap when the vault\'s settings fail their check', async () => {
    const h = harness();
    await ok(h.router.handle('vault.create', ME, { passphrase: PASS }));
    await ok(h.router.handle('settings.set', ME, { airgapStrict: true }));
    await ok(h.router.handle('vault.lock', ME, {}));
    const db = new Database(h.vaultPath);
    db.prepare('UPDATE settings SET value = ? WHERE name = ?').run('false', SETTING_ROWS.airgapStrict);
    db.close();

    setInterfaces(h, UP);
    const refused = await err(h.router.handle('vault.unlock', ME, { passphrase: PASS }));
    expect(refused.code).toBe('AIRGAP_REQUIRED');
    expect(refused.hint).toContain('integrity check');
    setInterfaces(h, LOOPBACK);
    await ok(h.router.handle('vault.unlock', ME, { passphrase: PASS }));
    expect((await err(h.router.handle('settings.show', ME, {}))).code).toBe('INTEGRITY');
    h.router.dispose();
  });
});

describe('the vault\'s auto-lock and clipboard times', () => {
  it('apply after unlock in place of the workstation\'s, and the workstation\'s again after lock', async () => {
    const h = harness({ autoLockMinutes: 30, clipboardClearSeconds: 30 });
    await ok(h.router.handle('vault.create', ME, { passphrase: PASS }));
    await ok(h.router.handle('settings.set', ME, { autoLockMinutes: 1, clipboardClearSeconds: 7 }));
    await ok(h.router.handle('vault.lock', ME, {}));
    expect(await inForce(h)).toEqual({ autoLockMinutes: 30, clipboardClearSeconds: 30, airgapStrict: false });

    await ok(h.router.handle('vault.unlock', ME, { passphrase: PASS }));
    expect(await inForce(h)).toEqual({ autoLockMinutes: 1, clipboardClearSeconds: 7, airgapStrict: false });
    const key = await ok<{ id: string }>(h.router.handle('key.create', ME, { name: 'k', service: 's' }));

    // Timers from here on are the test's: the copy and the next command arm theirs with the vault's times.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const copied = await ok<{ clearAfterSeconds: number }>(h.router.handle('clipboard.copySecret', ME, { id: key.id }));
    expect(copied.clearAfterSeconds).toBe(7);
    expect(isValidApiKey(h.clipboard.text)).toBe(true);
    await vi.advanceTimersByTimeAsync(6_000);
    expect(h.clipboard.text === '', 'cleared before its time').toBe(false);
    await vi.advanceTimersByTimeAsync(1_500);
    expect(h.clipboard.text === '', 'cleared after the vault\'s 7 s').toBe(true);
    const idle = (): boolean => h.events.some((e) => e.name === 'vault.locked' && e.payload.reason === 'idle');
    await vi.advanceTimersByTimeAsync(51_000);
    expect(idle()).toBe(false);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(idle()).toBe(true);
    vi.useRealTimers();
    expect(await unlocked(h)).toBe(false);
    expect((await inForce(h)).autoLockMinutes).toBe(30);
    h.router.dispose();
  });

  it('a change made while unlocked applies at once', async () => {
    const h = harness({ autoLockMinutes: 30, clipboardClearSeconds: 30 });
    await ok(h.router.handle('vault.create', ME, { passphrase: PASS }));
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    await ok(h.router.handle('settings.set', ME, { autoLockMinutes: 2 }));
    await vi.advanceTimersByTimeAsync(119_000);
    expect(h.events.some((e) => e.name === 'vault.locked')).toBe(false);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(h.events.some((e) => e.name === 'vault.locked')).toBe(true);
    vi.useRealTimers();
    h.router.dispose();
  });
});
